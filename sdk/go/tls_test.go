package iamodules

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
)

// authority is a throwaway CA that signs a server and a client certificate.
type authority struct {
	certificate *x509.Certificate
	key         *ecdsa.PrivateKey
	dir         string
}

func newAuthority(t *testing.T) *authority {
	t.Helper()
	a := &authority{dir: t.TempDir()}
	a.certificate, a.key = a.sign(t, "ca", &x509.Certificate{IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true})
	return a
}

// sign issues a certificate from template (self-signed while there is no CA yet)
// and writes <name>.pem and <name>.key.
func (a *authority) sign(t *testing.T, name string, template *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template.SerialNumber = big.NewInt(time.Now().UnixNano())
	template.Subject = pkix.Name{CommonName: name}
	template.NotBefore, template.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, signer := template, key
	if a.certificate != nil {
		parent, signer = a.certificate, a.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	a.write(t, name+".pem", "CERTIFICATE", der)
	a.write(t, name+".key", "PRIVATE KEY", keyDER)
	certificate, _ := x509.ParseCertificate(der)
	return certificate, key
}

func (a *authority) write(t *testing.T, name, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(a.path(name), pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (a *authority) path(name string) string { return filepath.Join(a.dir, name) }

// serveMutualTLS serves the fake executor on a TCP port that requires a client
// certificate signed by the authority, with a server certificate for "executor".
func serveMutualTLS(t *testing.T, a *authority) string {
	t.Helper()
	a.sign(t, "server", &x509.Certificate{DNSNames: []string{"executor"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	certificate, err := tls.LoadX509KeyPair(a.path("server.pem"), a.path("server.key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.certificate)
	config := &tls.Config{Certificates: []tls.Certificate{certificate}, ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer(grpc.Creds(credentials.NewTLS(config)))
	executorv1.RegisterExecutorServiceServer(server, &fakeExecutor{state: executorv1.RunState_RUN_STATE_SUCCEEDED})
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	return listener.Addr().String()
}

func TestTheClientDialsMutualTLSFromTheEnvironment(t *testing.T) {
	a := newAuthority(t)
	address := serveMutualTLS(t, a)
	a.sign(t, "client", &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	t.Setenv(TLSCAVariable, a.path("ca.pem"))
	t.Setenv(TLSCertVariable, a.path("client.pem"))
	t.Setenv(TLSKeyVariable, a.path("client.key"))
	t.Setenv(TLSServerNameVariable, "executor")
	client, err := NewClient(address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	run, err := client.GetRun(context.Background(), "run-1")

	if err != nil || run.GetState() != executorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run %v, error %v", run, err)
	}
}

func TestWithTLSWithoutAClientCertificateIsRefusedByAMutualTLSServer(t *testing.T) {
	a := newAuthority(t)
	address := serveMutualTLS(t, a)
	client, err := NewClient(address, WithTLS(TLSFiles{CA: a.path("ca.pem"), ServerName: "executor"}), WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	_, err = client.GetRun(context.Background(), "run-1")

	if e, _ := AsError(err); e == nil || e.Code != codes.Unavailable {
		t.Fatalf("got %#v", err)
	}
}

func TestACertificateWithoutItsKeyIsRefusedNamingTheVariables(t *testing.T) {
	t.Setenv(TLSCAVariable, "")
	t.Setenv(TLSCertVariable, "client.pem")
	t.Setenv(TLSKeyVariable, "")

	_, err := NewClient("localhost:1")

	if e, _ := AsError(err); e == nil || e.Code != codes.InvalidArgument || !strings.Contains(err.Error(), "IA_TLS_CERT is set but IA_TLS_KEY is not") {
		t.Fatalf("got %v", err)
	}
}

func TestACAFileThatIsMissingIsNamed(t *testing.T) {
	_, err := NewClient("localhost:1", WithTLS(TLSFiles{CA: filepath.Join(t.TempDir(), "nope.pem")}))

	if err == nil || !strings.Contains(err.Error(), "ca=") || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("got %v", err)
	}
}

func TestNoTLSVariablesMeansPlaintext(t *testing.T) {
	for _, name := range []string{TLSCAVariable, TLSCertVariable, TLSKeyVariable, TLSServerNameVariable} {
		t.Setenv(name, "")
	}
	if files := TLSFromEnv(); files != nil {
		t.Fatalf("got %+v", files)
	}
}
