// Package cnpgkit puts a real CloudNativePG on the e2e node, for any e2e test that needs a
// PostgreSQL operator with backups: the operator v1.30, the barman-cloud plugin and its sidecar,
// a PostgreSQL image assembled from Debian's packages (all from `make cnpg-kit`, see
// e2e/kit/build-cnpg.sh), and versitygw as the S3 store, run inside the node's network namespace
// where pods reach it.
//
//	k, _ := cnpgkit.Find()                            // a *kit.MissingError when not built
//	inst, _ := cnpgkit.Install(ctx, testNode, k)      // images, operator, plugin (mTLS certs made here)
//	s3, _ := cnpgkit.StartS3(ctx, testNode, dir)      // versitygw on the node's IP; s3.Stop() at the end
//	_ = s3.CreateBucket(ctx, "backups")
//	_ = inst.Volumes(ctx, testNode, "pg", 2, "2Gi")   // no provisioner on the node
//	apply(s3.CredentialsSecret(ns, "backup-s3"), cnpgkit.ObjectStore(ns, "store", s3.Endpoint, "s3://backups/", "backup-s3"),
//		cnpgkit.Cluster{Namespace: ns, Name: "pg", Image: k.PostgresImage, Store: "store"}.Object())
//	_ = inst.WaitCluster(ctx, ns, "pg", 10*time.Minute)
//	out, _ := inst.PSQL(ctx, ns, "pg-1", "app", "select count(*) from notes")
//	apply(cnpgkit.Backup(ns, "now", "pg")); b, _ := inst.WaitBackup(ctx, ns, "now", 10*time.Minute)
//	apply(cnpgkit.Cluster{..., Name: "pg-restored", RecoverFrom: "pg"}.Object())  // archives under its own server name
//
// e2e/cnpg/backup_test.go is the whole round trip. For the appliance's own rendered Clusters
// (e2e/cnpg/appliance_test.go): StartS3With (versitygw over TLS, S3TLS), Provision (volumes for
// classless claims as they come) and Kit.SidecarTrusting (the sidecar trusting a test CA).
//
// Upstream's install manifests are applied as published, with two changes the node needs: the
// plugin's images are the train's (upstream's manifest.yaml names a testing image) and its
// cert-manager Certificates are replaced by Secrets this package makes, since no cert-manager runs
// on the node (the appliance itself installs cert-manager and the chart's Certificates).
package cnpgkit
