package doctor

func gitopsChecks() []Check { return nil }
