package iamodules

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// The variables TLSFromEnv reads, the same ones every part of IA Modules reads.
const (
	TLSCAVariable         = "IA_TLS_CA"
	TLSCertVariable       = "IA_TLS_CERT"
	TLSKeyVariable        = "IA_TLS_KEY"
	TLSServerNameVariable = "IA_TLS_SERVER_NAME"
)

// TLSFiles names the PEM files of a TLS connection. CA set: the server's
// certificate must chain to it (else to the system roots). Cert and Key set (both
// or neither): the client presents that certificate (mutual TLS). ServerName is
// the name to check the server's certificate against when it differs from the
// host dialled.
type TLSFiles struct {
	CA, Cert, Key, ServerName string

	// names say where each file came from (a variable), for error messages.
	names map[string]string
}

// TLSFromEnv reads IA_TLS_CA, IA_TLS_CERT, IA_TLS_KEY and IA_TLS_SERVER_NAME; it
// returns nil when none of the files is set (plaintext).
func TLSFromEnv() *TLSFiles {
	files := TLSFiles{
		CA: os.Getenv(TLSCAVariable), Cert: os.Getenv(TLSCertVariable), Key: os.Getenv(TLSKeyVariable),
		ServerName: os.Getenv(TLSServerNameVariable),
		names:      map[string]string{"ca": TLSCAVariable, "cert": TLSCertVariable, "key": TLSKeyVariable},
	}
	if files.CA == "" && files.Cert == "" && files.Key == "" {
		return nil
	}
	return &files
}

// WithTLS dials with TLS from these files instead of IA_TLS_*.
func WithTLS(files TLSFiles) Option {
	return func(o *options) { o.tls = &files }
}

// TransportCredentials reads the files. It fails, naming the file or the
// variable, when one cannot be read or holds no PEM certificate, or when only one
// of Cert and Key is given.
func (f TLSFiles) TransportCredentials() (credentials.TransportCredentials, error) {
	config, err := f.config()
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(config), nil
}

func (f TLSFiles) config() (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if (f.Cert == "") != (f.Key == "") {
		given, missing := f.name("cert"), f.name("key")
		if f.Cert == "" {
			given, missing = missing, given
		}
		return nil, fmt.Errorf("%s is set but %s is not: give both or neither", given, missing)
	}
	if f.Cert != "" {
		certificate, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("%s=%q / %s=%q cannot be used: %w", f.name("cert"), f.Cert, f.name("key"), f.Key, err)
		}
		config.Certificates = []tls.Certificate{certificate}
	}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("%s=%q cannot be read: %w", f.name("ca"), f.CA, err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s=%q holds no PEM certificate", f.name("ca"), f.CA)
		}
		config.RootCAs = roots
	}
	return config, nil
}

func (f TLSFiles) name(field string) string {
	if name, ok := f.names[field]; ok {
		return name
	}
	return field
}

// transportCredentials picks what the client dials with: the credentials given,
// else WithTLS, else IA_TLS_*, else plaintext.
func (o *options) transportCredentials() (credentials.TransportCredentials, error) {
	if o.credentials != nil {
		return o.credentials, nil
	}
	files := o.tls
	if files == nil {
		files = TLSFromEnv()
	}
	if files == nil {
		return insecure.NewCredentials(), nil
	}
	return files.TransportCredentials()
}
