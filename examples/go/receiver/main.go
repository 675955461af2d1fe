// Command receiver receives Hookhub's deliveries and verifies their Standard Webhooks signature, with the Go
// standard library only.
//
//	HOOKHUB_WEBHOOK_SECRET=whsec_... PORT=8000 go run ./receiver
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	tolerance    = 5 * time.Minute
	maxBodyBytes = 1 << 20
)

// signingKey: a whsec_ secret's key is the base64 after the prefix; any other secret (set by hand) is its
// UTF-8 bytes.
func signingKey(secret string) ([]byte, error) {
	if strings.HasPrefix(secret, "whsec_") {
		return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	}
	return []byte(secret), nil
}

// verify returns nil when the delivery is genuine and fresh, else why not.
func verify(key []byte, header http.Header, body []byte, now time.Time) error {
	id := header.Get("webhook-id")
	timestamp := header.Get("webhook-timestamp")
	signatures := header.Get("webhook-signature")
	if id == "" || timestamp == "" || signatures == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || seconds < 0 || strings.HasPrefix(timestamp, "+") {
		return errors.New("bad webhook-timestamp")
	}
	if age := now.Sub(time.Unix(seconds, 0)); age > tolerance || age < -tolerance {
		return errors.New("webhook-timestamp too old or too new")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	expected := []byte("v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	// During a secret rotation Hookhub sends one v1,<base64> per live secret, space separated: any may match.
	// subtle.ConstantTimeCompare compares in constant time.
	for _, signature := range strings.Split(signatures, " ") {
		if subtle.ConstantTimeCompare([]byte(signature), expected) == 1 {
			return nil
		}
	}
	return errors.New("no signature matches")
}

func handler(key []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		// The raw bytes, exactly as sent: verify them before parsing.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := verify(key, r.Header, body, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "refused:", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			ID        string         `json:"id"`
			Type      string         `json:"type"`
			Timestamp string         `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		// Handle the event here. Hookhub retries until it gets a 2xx, so the same webhook-id can arrive twice.
		fmt.Printf("verified %s %s\n", r.Header.Get("webhook-id"), event.Type)
		w.WriteHeader(http.StatusNoContent)
	}
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	secret := os.Getenv("HOOKHUB_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set HOOKHUB_WEBHOOK_SECRET to the secret Hookhub returned when the webhook was created")
	}
	key, err := signingKey(secret)
	if err != nil {
		log.Fatalf("HOOKHUB_WEBHOOK_SECRET: %v", err)
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(env("HOST", "127.0.0.1"), env("PORT", "8000")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", listener.Addr())
	server := &http.Server{Handler: handler(key), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.Serve(listener))
}
