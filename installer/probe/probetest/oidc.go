package probetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"net/http"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Grant says how the provider treats the client_credentials grant.
type Grant int

const (
	// GrantAllowed: offered, and the Docs client may use it.
	GrantAllowed Grant = iota
	// GrantRefused: offered, but not for the Docs client (unauthorized_client).
	GrantRefused
	// GrantNotOffered: absent from the provider (not in grant_types_supported).
	GrantNotOffered
)

// OIDCOptions shape the provider.
type OIDCOptions struct {
	ClientID, ClientSecret string
	Grant                  Grant
	// NoUserinfo serves no userinfo endpoint (and leaves it out of discovery).
	NoUserinfo bool
	// ES256 signs with an ECDSA key only: no RS256.
	ES256 bool
}

// OIDC is a running OpenID provider.
type OIDC struct {
	// Issuer is the issuer its discovery document states.
	Issuer string
}

// StartOIDC runs a zitadel/oidc OpenID provider over TLS on 127.0.0.1 with
// one web client (the Docs client) whose redirect URI is Docs' callback.
func StartOIDC(t testing.TB, ca *CA, o OIDCOptions) *OIDC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the OpenID provider: %v", err)
	}
	issuer := "https://" + ln.Addr().String()
	base := storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{
		o.ClientID: storage.WebClient(o.ClientID, o.ClientSecret, "https://docs.test/api/v1.0/callback/"),
	})
	s := &oidcStorage{Storage: base, base: base, grant: o.Grant}
	if o.ES256 {
		if s.es, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	var store op.Storage = s
	if o.Grant != GrantNotOffered {
		store = &ccStorage{s}
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      sha256.Sum256([]byte("docs-appliance probetest")),
		CodeMethodS256: true,
		AuthMethodPost: true,
	}, store, op.StaticIssuer(issuer))
	if err != nil {
		t.Fatalf("creating the OpenID provider: %v", err)
	}
	endpoints := provider.Endpoints()
	if o.NoUserinfo {
		endpoints.Userinfo = nil
	}
	handler := op.RegisterLegacyServer(op.NewLegacyServer(provider, endpoints), op.AuthorizeCallbackHandler(provider))
	srv := &http.Server{Handler: handler, TLSConfig: ca.Server.Clone(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return &OIDC{Issuer: issuer}
}

// oidcStorage is the example storage with an optional ES256-only key.
type oidcStorage struct {
	op.Storage
	base  *storage.Storage
	grant Grant
	es    *ecdsa.PrivateKey
}

type esKey struct{ k *ecdsa.PrivateKey }

func (e esKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (e esKey) Key() any                                    { return e.k }
func (e esKey) ID() string                                  { return "es256-only" }
func (e esKey) Algorithm() jose.SignatureAlgorithm          { return jose.ES256 }
func (e esKey) Use() string                                 { return "sig" }

type esPublic struct{ esKey }

func (e esPublic) Key() any { return &e.k.PublicKey }

func (s *oidcStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	if s.es != nil {
		return esKey{s.es}, nil
	}
	return s.Storage.SigningKey(ctx)
}

func (s *oidcStorage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	if s.es != nil {
		return []jose.SignatureAlgorithm{jose.ES256}, nil
	}
	return s.Storage.SignatureAlgorithms(ctx)
}

func (s *oidcStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	if s.es != nil {
		return []op.Key{esPublic{esKey{s.es}}}, nil
	}
	return s.Storage.KeySet(ctx)
}

// ccStorage adds the client_credentials grant for the Docs client.
type ccStorage struct{ *oidcStorage }

// ccClient is the Docs client, allowed the client_credentials grant.
type ccClient struct{ op.Client }

func (c ccClient) GrantTypes() []oidc.GrantType {
	return append(c.Client.GrantTypes(), oidc.GrantTypeClientCredentials)
}

func (s *ccStorage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	if err := s.base.AuthorizeClientIDSecret(ctx, clientID, clientSecret); err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("wrong client or secret")
	}
	c, err := s.base.GetClientByClientID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if s.grant == GrantAllowed {
		return ccClient{c}, nil
	}
	return c, nil
}

func (s *ccStorage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	return &oidc.JWTTokenRequest{Subject: clientID, Audience: []string{clientID}, Scopes: scopes}, nil
}
