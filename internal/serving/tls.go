package serving

import "crypto/tls"

// CipherSuites are the TLS 1.2 suites a server offers: ECDHE key exchange
// (forward secrecy) with an AEAD cipher, AES-GCM or ChaCha20-Poly1305. CBC
// suites with SHA-1 or SHA-256 MACs and static RSA key exchange are left
// out. TLS 1.3's suites are all AEAD and not configurable. HTTP/2 needs an
// AES-128-GCM suite, which the list has.
func CipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// TLSConfig returns a server configuration with TLS 1.2 as the oldest
// version and only CipherSuites for it; the caller adds certificates and
// client authentication.
func TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: CipherSuites()}
}
