package render

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// Memory of Docs' server processes, as measured on Docs 5.x: a uvicorn
// worker holds Django, Docs' apps and their libraries (about 200 MiB
// resident at rest, more while exporting a large document), under a
// small supervisor; a Celery prefork child is a similar Django process
// under its parent. A pod runs as many as its memory limit holds, at
// least one.
var (
	backendWorkerMemory = resource.MustParse("384Mi")
	backendServerMemory = resource.MustParse("64Mi")
	celeryChildMemory   = resource.MustParse("256Mi")
	celeryParentMemory  = resource.MustParse("128Mi")
)

// processesFitting is how many processes of each size fit in a workload's
// memory limit (its request when it has no limit) beside the fixed part.
func processesFitting(w profiles.Workload, each, fixed resource.Quantity) (int, error) {
	q, ok := w.Limits["memory"]
	if !ok {
		q, ok = w.Requests["memory"]
	}
	if !ok {
		return 0, fmt.Errorf("the profile gives it no memory: set limits.memory")
	}
	limit, err := resource.ParseQuantity(string(q))
	if err != nil {
		return 0, fmt.Errorf("memory %q: %w", q, err)
	}
	n := (limit.Value() - fixed.Value()) / each.Value()
	if n < 1 {
		n = 1
	}
	return int(n), nil
}

// createSuperuserCommand waits for the database, as upstream's Job does,
// then creates or updates the first admin. Docs' createsuperuser command
// takes the password as an argument; it is called from Python with the
// value read from the environment, so no command line ever holds it.
func createSuperuserCommand() []string {
	return []string{"/bin/sh", "-c", `while ! python manage.py check --database default > /dev/null 2>&1; do
  echo "Database not ready"
  sleep 2
done
echo "Database is ready"
exec python manage.py shell -c "` + createSuperuserPython + `"
`}
}

// createSuperuserPython is the code the Job runs in Docs' Django shell.
const createSuperuserPython = `import os; from django.core.management import call_command; ` +
	`call_command('createsuperuser', email=os.environ['DJANGO_SUPERUSER_EMAIL'], password=os.environ['DJANGO_SUPERUSER_PASSWORD'])`

// docsPostRender finishes what the Docs chart cannot express: the first
// admin's password for the createsuperuser Job alone (the chart gives
// every workload the same env), and, with the appliance CA, the trust of
// that CA in the backend's and y-provider's pods.
func docsPostRender(v *valuesContext, objs []Object) error {
	byName := map[string]Object{}
	for _, o := range objs {
		if o.Group() == "apps" && o.Kind() == "Deployment" || o.Group() == "batch" && o.Kind() == "Job" {
			byName[o.Kind()+"/"+o.Name()] = o
		}
	}
	find := func(kind, name string) (Object, error) {
		o, ok := byName[kind+"/"+name]
		if !ok {
			return nil, fmt.Errorf("the Docs chart renders no %s %s: the appliance's wiring must follow the chart", kind, name)
		}
		return o, nil
	}
	if err := brandDocsWorkloads(v, find); err != nil {
		return err
	}
	if err := spreadDocs(v, find); err != nil {
		return err
	}
	if err := stopDocsGracefully(find); err != nil {
		return err
	}
	job, err := find("Job", docsFullname+"-backend-createsuperuser")
	if err != nil {
		return err
	}
	spec, err := podSpec(job)
	if err != nil {
		return err
	}
	for _, c := range containers(spec, "containers") {
		setEnv(c, "DJANGO_SUPERUSER_PASSWORD", m{"secretKeyRef": m{"name": docsSuperuserSecret, "key": "DJANGO_SUPERUSER_PASSWORD"}})
	}
	// A new password re-creates the Job (Flux replaces it), which sets it.
	podAnnotations(job)["docs-appliance/superuser-hash"] = v.secretsHash["docs-superuser"]
	// The chart gives the Jobs the web pods' annotations, whose secrets
	// hash rolls pods that read a rotated secret at start: a finished Job
	// has nothing to roll, and re-running it would only reset the admin's
	// password or migrate again for nothing.
	for _, name := range []string{"-backend-createsuperuser", "-backend-migrate"} {
		j, err := find("Job", docsFullname+name)
		if err != nil {
			return err
		}
		delete(podAnnotations(j), "docs-appliance/secrets-hash")
	}

	if v.Config.TLS.Mode != config.TLSApplianceCA {
		return nil
	}
	python := []string{"Deployment/" + docsFullname + "-backend", "Deployment/" + docsFullname + "-celery-worker",
		"Job/" + docsFullname + "-backend-migrate", "Job/" + docsFullname + "-backend-createsuperuser"}
	for _, id := range python {
		kind, name, _ := strings.Cut(id, "/")
		o, err := find(kind, name)
		if err != nil {
			return err
		}
		if err := trustCAPython(o, resources(v.Profile, "job")); err != nil {
			return fmt.Errorf("%s %s: %w", kind, name, err)
		}
	}
	yp, err := find("Deployment", docsFullname+"-y-provider")
	if err != nil {
		return err
	}
	return trustCANode(yp)
}
