package doctor

func platformChecks() []Check { return nil }
