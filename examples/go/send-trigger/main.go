// Command send-trigger sends a signed trigger to a Hookhub source (the github scheme:
// X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>), with the Go standard library only.
//
//	HOOKHUB_SECRET=... go run ./send-trigger
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// uuid4 returns a random (version 4) UUID, used as the delivery id.
func uuid4() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func main() {
	url := env("HOOKHUB_URL", "http://localhost:3000")
	source := env("HOOKHUB_SOURCE", "github")
	secret := os.Getenv("HOOKHUB_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "set HOOKHUB_SECRET to the source's secret")
		os.Exit(2)
	}
	// The exact bytes that are signed and sent.
	body := []byte(env("HOOKHUB_BODY", `{"ref": "refs/heads/main"}`))

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	req, err := http.NewRequest(http.MethodPost, url+"/hooks/"+source, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", env("HOOKHUB_EVENT", "push"))
	req.Header.Set("X-GitHub-Delivery", uuid4())
	req.Header.Set("X-Hub-Signature-256", signature)

	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(text))
	fmt.Printf("status %d\n", res.StatusCode)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		os.Exit(1)
	}
}
