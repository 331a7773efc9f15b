package render

import "testing"

// CloudNativePG makes a ServiceAccount, a Role and a RoleBinding named after each Cluster, in
// its namespace, and owns them: an appliance object of one of those kinds with a Cluster's name
// is rewritten by the operator (the restore check's own rights became the throwaway cluster's
// instance rights, and its job could then neither find the recovered pod nor record its result:
// found by e2e/cnpg on the real operator), and deleted with the Cluster.
func TestNoObjectTakesANameCloudNativePGMakesForACluster(t *testing.T) {
	cnpgOwned := map[string]bool{"ServiceAccount": true, "Role": true, "RoleBinding": true}
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			_, objs := renderedObjects(t, comboFixture(t, cb).render(t))
			clusters := map[string]bool{}
			for _, o := range objs {
				if o.GetKind() == "Cluster" && o.GroupVersionKind().Group == "postgresql.cnpg.io" {
					clusters[o.GetNamespace()+"/"+o.GetName()] = true
				}
			}
			if len(clusters) < 2 {
				t.Fatalf("found %d CloudNativePG Clusters, want the database's and the restore check's", len(clusters))
			}
			for _, o := range objs {
				if cnpgOwned[o.GetKind()] && clusters[o.GetNamespace()+"/"+o.GetName()] {
					t.Errorf("%s %s/%s has the name of a Cluster: CloudNativePG makes and owns its own of that name", o.GetKind(), o.GetNamespace(), o.GetName())
				}
			}
		})
	}
}
