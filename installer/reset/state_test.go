package reset

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// --state-dir pointed at the operator's own folder: reset refuses before changing anything,
// with or without --purge, naming the folder, what is foreign in it and the fix.
func TestAForeignStateFolderIsRefused(t *testing.T) {
	for _, purge := range []bool{false, true} {
		h := newFakeHost(t, true)
		const home = "/home/operator"
		h.tr.Write(home+"/.bashrc", "alias ll='ls -l'\n").Write(home+"/notes.txt", "mine").Write(home+"/kubeconfig", "mine too")
		o := h.options()
		o.StateDir, o.Purge = home, purge
		_, err := Run(context.Background(), o, status.Discard())
		if !errors.Is(err, ErrForeignState) {
			t.Fatalf("purge=%v: got %v", purge, err)
		}
		for _, want := range []string{home + " holds .bashrc, notes.txt", "--state-dir"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		if strings.Contains(err.Error(), "kubeconfig") {
			t.Errorf("a name the appliance writes is called foreign: %v", err)
		}
		if got := h.rec.Lines(); strings.Join(got, ",") != "iptables-save,ip6tables-save" {
			t.Errorf("ran more than the plan's reads: %q", got)
		}
		for _, p := range []string{home + "/.bashrc", home + "/notes.txt", home + "/kubeconfig", k3s.BinaryPath, k3s.DataDir} {
			if !h.tr.Root.Exists(p) {
				t.Errorf("purge=%v: %s was removed", purge, p)
			}
		}
	}
}

// A state folder secrets.OpenStore made holds its marker: reset empties it of everything but
// what it keeps, even files the operator added, and a purge removes the folder.
func TestTheMarkedStateFolderIsTheAppliances(t *testing.T) {
	h := newFakeHost(t, false)
	r := h.tr.Root
	const made = "/srv/docs-state"
	if _, err := secrets.OpenStore(r.Path(made)); err != nil {
		t.Fatal(err)
	}
	h.tr.Write(made+"/notes.txt", "the operator's note in the appliance's folder").Write(made+"/volumes/pvc-1/data", "data")
	o := h.options()
	o.StateDir = made
	out := reset(t, o)
	if r.Exists(made + "/notes.txt") {
		t.Error("the operator's file in the marked folder was kept")
	}
	for _, kept := range []string{secrets.KeyFileName, secrets.StateMarker, "volumes/pvc-1/data"} {
		if !r.Exists(made + "/" + kept) {
			t.Errorf("%s was removed", kept)
		}
	}
	if strings.Contains(out, secrets.StateMarker) {
		t.Errorf("the marker is listed as kept:\n%s", out)
	}
	o.Purge = true
	reset(t, o)
	if r.Exists(made) {
		t.Error("the purge left the state folder")
	}

	// OpenStore into a folder that already holds the operator's files marks nothing: reset
	// then refuses it, although the key and store are the appliance's.
	const home = "/home/operator"
	h.tr.Write(home+"/.profile", "PATH=$PATH:~/bin\n")
	if _, err := secrets.OpenStore(r.Path(home)); err != nil {
		t.Fatal(err)
	}
	if r.Exists(home + "/" + secrets.StateMarker) {
		t.Fatal("OpenStore marked a folder it did not make")
	}
	o.StateDir = home
	if _, err := Run(context.Background(), o, status.Discard()); !errors.Is(err, ErrForeignState) || !r.Exists(home+"/.profile") {
		t.Errorf("got %v", err)
	}
}

// An empty folder carries no sign of being the appliance's: even a purge leaves it.
func TestAnEmptyStateFolderIsLeftAlone(t *testing.T) {
	h := newFakeHost(t, false)
	h.tr.Mkdir("/mnt/empty")
	o := h.options()
	o.StateDir, o.Purge = "/mnt/empty", true
	reset(t, o)
	if !h.tr.Root.Exists("/mnt/empty") {
		t.Error("an empty folder reset did not make was removed")
	}
}

// A volume of that name already in the state folder is never overwritten by one moved out of
// k3s's data folder: the reset stops before k3s's files, with both volumes intact, and says
// what to do.
func TestAMovedVolumeNeverOverwritesOne(t *testing.T) {
	h := newFakeHost(t, true)
	h.tr.Write(stateDir+"/volumes/pvc-2_database_pg-1/PG_VERSION", "16")
	_, err := Run(context.Background(), h.options(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), "pvc-2_database_pg-1 exists already; move one of them aside and reset again") {
		t.Fatalf("got %v", err)
	}
	if h.tr.Read(k3s.LegacyVolumesDir+"/pvc-2_database_pg-1/PG_VERSION") != "17" || h.tr.Read(stateDir+"/volumes/pvc-2_database_pg-1/PG_VERSION") != "16" {
		t.Error("a volume was lost")
	}
	if !h.tr.Root.Exists(k3s.UnitPath) {
		t.Error("k3s's files were removed although a volume was not moved")
	}
	// The plan said what it would do with them.
	p, err := MakePlan(context.Background(), h.options())
	if err != nil {
		t.Fatal(err)
	}
	if want := "move the 1 volume(s) in /var/lib/rancher/k3s/storage to /var/lib/docs-appliance/volumes, to keep them"; !strings.Contains(p.Text(), want) {
		t.Errorf("plan lacks %q:\n%s", want, p.Text())
	}
}
