package cnpgkit

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
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
)

// versitygwVersion is the S3 server `make wizard-kit` builds (mk/wizard.mk).
const versitygwVersion = "v1.8.0"

// s3Port is where versitygw listens on the node's IP.
const s3Port = "9000"

// S3 is versitygw's posix backend serving a host folder inside the node's network namespace, on
// the node's IP, over plain HTTP (as the appliance's embedded store is reached in the cluster):
// pods reach it at Endpoint, the test at the same address through Client. Objects are files
// under Root/<bucket>/, so a test can measure or break a backup on disk.
type S3 struct {
	Endpoint             string // http://10.240.0.1:9000
	Region               string
	AccessKey, SecretKey string
	Root                 string
	Client               *s3.Client

	cmd    *exec.Cmd
	exited chan error
	logs   *syncBuffer
}

// S3Options change how StartS3With runs versitygw.
type S3Options struct {
	// TLS, when set, serves HTTPS with its certificate (Endpoint is then https://).
	TLS *S3TLS
	// Versioning gives versitygw a versioning folder (dir/s3-versions), without which it keeps
	// no object versions at all.
	Versioning bool
}

// StartS3With is StartS3 with options.
func StartS3With(ctx context.Context, n *node.Node, dir string, o S3Options) (*S3, error) {
	bin := os.Getenv("DOCS_APPLIANCE_VERSITYGW")
	if bin == "" {
		root, err := kit.CacheRoot()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(root, "versitygw-"+versitygwVersion, "versitygw")
	}
	if err := kit.CheckBinaries(filepath.Dir(bin), "the versitygw S3 server", "wizard-kit", filepath.Base(bin)); err != nil {
		return nil, err
	}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	s := &S3{Endpoint: scheme + "://" + node.NodeIP + ":" + s3Port, Region: "us-east-1",
		AccessKey: "AKIACNPGKIT000000001", SecretKey: randomHex(20), Root: filepath.Join(dir, "s3"),
		exited: make(chan error, 1), logs: &syncBuffer{}}
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return nil, fmt.Errorf("making the S3 folder: %w", err)
	}
	args := []string{"--net=/run/netns/" + n.Name, bin, "--port", node.NodeIP + ":" + s3Port, "--quiet", "--region", s.Region}
	if o.TLS != nil {
		args = append(args, "--cert", o.TLS.CertFile, "--key", o.TLS.KeyFile)
	}
	args = append(args, "posix")
	if o.Versioning {
		versions := filepath.Join(dir, "s3-versions")
		if err := os.MkdirAll(versions, 0o700); err != nil {
			return nil, fmt.Errorf("making the S3 versions folder: %w", err)
		}
		args = append(args, "--versioning-dir", versions)
	}
	s.cmd = exec.Command("nsenter", append(args, s.Root)...)
	// The keys go through the environment, never the command line.
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting versitygw in the node's namespace: %w", err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	dial := netnsDialer("/run/netns/" + n.Name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := dial(ctx, "tcp", node.NodeIP+":"+s3Port)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("versitygw exited: %v\n%s", err, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 30s: %w\n%s", s.Endpoint, err, s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	transport := &http.Transport{DialContext: dial}
	if o.TLS != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: o.TLS.Pool}
	}
	s.Client = s3.New(s3.Options{
		Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:  &http.Client{Transport: transport},
	})
	return s, nil
}

// CreateBucket makes a bucket.
func (s *S3) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return nil
}

// Size is the number of objects and their bytes under prefix in bucket (listed through S3).
func (s *S3) Size(ctx context.Context, bucket, prefix string) (objects int, bytes int64, err error) {
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("listing %s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			objects++
			bytes += aws.ToInt64(o.Size)
		}
	}
	return objects, bytes, nil
}

// Stop ends versitygw (by its PID) and waits for it.
func (s *S3) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Logs is what versitygw printed.
func (s *S3) Logs() string { return s.logs.String() }

// netnsDialer dials from inside the network namespace at nsPath: the socket is made on an OS
// thread moved into the namespace, which then goes back (a thread that cannot is never reused).
func netnsDialer(nsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			own, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: err}
				return
			}
			defer own.Close()
			target, err := os.Open(nsPath)
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: fmt.Errorf("opening the node's network namespace: %w", err)}
				return
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: fmt.Errorf("entering the node's network namespace: %w", err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
