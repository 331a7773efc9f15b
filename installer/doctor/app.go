package doctor

func appChecks() []Check { return nil }
