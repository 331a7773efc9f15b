// Package cnpgkit puts a real CloudNativePG on the e2e node, for any e2e test that needs a
// PostgreSQL operator with backups: the operator v1.30, the barman-cloud plugin and its sidecar,
// a PostgreSQL image assembled from Debian's packages (all from `make cnpg-kit`, see
// e2e/kit/build-cnpg.sh), and versitygw as the S3 store, run inside the node's network namespace
// where pods reach it.
//
//	k, _ := cnpgkit.Find()                            // a *kit.MissingError when not built
//	inst, _ := cnpgkit.Install(ctx, testNode, k)      // images, operator, plugin (mTLS certs made here)
//	tls, _ := cnpgkit.NewS3TLS(dir)                   // a CA and a certificate for the node's IP
//	s3, _ := cnpgkit.StartS3With(ctx, testNode, dir, cnpgkit.S3Options{TLS: tls}) // versitygw; s3.Stop() at the end
//	p := inst.Provision(ctx, testNode)                // volumes for CloudNativePG's claims (no provisioner on the node)
//	out, _ := inst.PSQL(ctx, ns, "postgres-1", "docs", "select count(*) from impress_user")
//
// e2e/cnpg/appliance_test.go is the appliance on it, from install to a disaster recovery.
//
// Upstream's install manifests are applied as published, with two changes the node needs: the
// plugin's images are the train's (upstream's manifest.yaml names a testing image) and its
// cert-manager Certificates are replaced by Secrets this package makes, since no cert-manager runs
// on the node (the appliance itself installs cert-manager and the chart's Certificates).
package cnpgkit
