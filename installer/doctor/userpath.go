package doctor

// UserPathChecks are the checks a user's browser would make; install's
// last step runs them.
func UserPathChecks() []Check { return nil }
