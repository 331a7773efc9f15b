package probetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is a running versitygw over a temp folder, serving TLS on 127.0.0.1.
type S3 struct {
	Endpoint             string
	AccessKey, SecretKey string
	Region               string
	// Versioning is true when the gateway runs with a versioning folder.
	Versioning bool
	admin      *s3.Client
}

// StartS3 runs versitygw's posix backend; with versioning it gets
// --versioning-dir (without it, the gateway cannot keep versions at all).
// A nil ca serves plain HTTP (as the embedded store does inside the cluster).
func StartS3(t testing.TB, ca *CA, versioning bool) *S3 {
	t.Helper()
	bin := VersitygwPath(t)
	dir := t.TempDir()
	root, verDir := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	for _, d := range []string{root, verDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	scheme := "https"
	if ca == nil {
		scheme = "http"
	}
	s := &S3{Endpoint: scheme + "://127.0.0.1:" + port, AccessKey: "AKIADOCSAPPLIANCE01", SecretKey: "probetest-secret-key-0123456789", Region: "us-east-1", Versioning: versioning}
	args := []string{"--port", "127.0.0.1:" + port}
	if ca != nil {
		args = append(args, "--cert", ca.CertFile, "--key", ca.KeyFile)
	}
	args = append(args, "--quiet", "--region", s.Region, "posix")
	if versioning {
		args = append(args, "--versioning-dir", verDir)
	}
	args = append(args, root)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		var c net.Conn
		var err error
		if ca != nil {
			c, err = tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: ca.Pool})
		} else {
			c, err = net.Dial("tcp", "127.0.0.1:"+port)
		}
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("versitygw exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s within 15s: %v\n%s", port, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tr := &http.Transport{}
	if ca != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool}
	}
	s.admin = s3.New(s3.Options{
		Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:  &http.Client{Transport: tr},
	})
	return s
}

// CreateBucket makes a bucket, with versioning on when asked.
func (s *S3) CreateBucket(t testing.TB, name string, versioned bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	if versioned {
		if _, err := s.admin.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatalf("turning on versioning for bucket %s: %v", name, err)
		}
	}
}

// Versioning returns a bucket's versioning status, or an error.
func (s *S3) BucketVersioning(name string) (string, error) {
	out, err := s.admin.GetBucketVersioning(context.Background(), &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
	if err != nil {
		return "", err
	}
	return string(out.Status), nil
}

// BucketExists reports whether a bucket is there.
func (s *S3) BucketExists(name string) bool {
	_, err := s.admin.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

// ObjectVersions counts every version and delete marker left in a bucket.
func (s *S3) ObjectVersions(t testing.TB, bucket string) int {
	t.Helper()
	out, err := s.admin.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("listing versions in %s: %v", bucket, err)
	}
	return len(out.Versions) + len(out.DeleteMarkers)
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// PutObject stores an object as the gateway's admin, for a test's setup.
func (s *S3) PutObject(t testing.TB, bucket, key, body string) {
	t.Helper()
	if _, err := s.admin.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader([]byte(body)), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		t.Fatalf("putting %s/%s: %v", bucket, key, err)
	}
}
