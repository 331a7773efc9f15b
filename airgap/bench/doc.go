// Command bench measures bundle import against the baseline the issue sets:
// `zstd -dc bundle | tar -x` followed by `sha256sum` of every file, on the
// same synthetic bundle in the same run. The bundle holds incompressible
// files laid out like a real one (k3s, its image archive, image archives,
// charts, Flux manifests), signed, so the import does everything it does
// on a site: signature, hashing while writing, atomic move into place.
//
// Peak memory is the import process's maximum resident set, read from the
// kernel's rusage of the child. The import runs as a child: the
// docs-appliance binary given with -bin, or this program re-executed in
// its import mode (the same airgap.Import, without the CLI around it).
//
//	go run ./airgap/bench -size 2GiB -runs 3 -bin ./docs-appliance -check
package main
