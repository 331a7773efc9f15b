package doctor

// All is every check, in report order. Each group's list lives in the
// group's file.
func All() []Check {
	var all []Check
	for _, g := range [][]Check{hostChecks(), clusterChecks(), gitopsChecks(), secretsChecks(),
		platformChecks(), edgeChecks(), appChecks(), UserPathChecks()} {
		all = append(all, g...)
	}
	return all
}
