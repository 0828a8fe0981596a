// Package chatcli is `parley chat`: a command line on the Go client SDK to
// start or join a chat, talk, send and download files, and read or follow
// the transcript, against Parley or Amazon Connect. Output is for people by
// default and JSON with --json.
package chatcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley"
	"github.com/parleychat/parley/contact"
)

const usage = `Usage: parley chat COMMAND [flags]

Commands:
  start [--name NAME] [--message TEXT]   start a chat as a customer
  join --contact-id ID [--name NAME]     join a chat as an agent (--role CUSTOM_BOT: as a bot)
  send TEXT                              send a message
  send-file PATH                         send a file, with a progress bar
  download ATTACHMENT_ID [-o PATH]       download an attachment, with a progress bar
  transcript [--follow]                  print the transcript; --follow prints what comes next
  end                                    leave the chat (a customer leaving ends it)

Flags for every command:
  --session FILE   where start and join keep the chat (default ./parley-session.json)
  --json           print JSON instead of text

start and join use the Connect API: --endpoint (default http://127.0.0.1:8080),
--instance-id, --contact-flow-id (start), and credentials from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or else
from --data-dir (default ./parley-data), where 'parley serve' keeps them, or
else from the AWS SDK's usual places (a profile, SSO, an instance role).
The other commands use the Participant Service at --participant-endpoint:
by default the same endpoint, or for Amazon Connect's own
https://connect.REGION.amazonaws.com, https://participant.connect.REGION.amazonaws.com.
On Amazon Connect, join with --role CUSTOM_BOT: Connect adds no agents by API.
`

// savedSession is what start and join write for the other commands.
type savedSession struct {
	Endpoint string `json:"endpoint"` // the Connect API's
	// ParticipantEndpoint is the Participant Service's; "" means Endpoint
	// (Parley serves both).
	ParticipantEndpoint string `json:"participantEndpoint,omitempty"`
	ContactID           string `json:"contactId"`
	ParticipantID       string `json:"participantId"`
	ParticipantToken    string `json:"participantToken"`
	Role                string `json:"role"`
}

type cli struct {
	stdout, stderr io.Writer
	env            func(string) string
	json           bool
	sessionFile    string
}

// Run runs `parley chat` with args (after "chat").
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	c := &cli{stdout: stdout, stderr: stderr, env: env}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("parley chat "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.sessionFile, "session", "parley-session.json", "the chat's session file")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	switch cmd {
	case "start", "join":
		var o startOptions
		fs.StringVar(&o.endpoint, "endpoint", or(env("PARLEY_ENDPOINT"), "http://127.0.0.1:8080"), "Parley's (or Connect's) Connect API endpoint")
		fs.StringVar(&o.participantEndpoint, "participant-endpoint", env("PARLEY_PARTICIPANT_ENDPOINT"),
			"the Participant Service's endpoint (default: --endpoint, or Connect's participant endpoint for its region)")
		fs.StringVar(&o.flowID, "contact-flow-id", or(env("PARLEY_CONTACT_FLOW_ID"), "default"), "the flow a started chat runs (start)")
		fs.StringVar(&o.role, "role", "AGENT", "who joins: AGENT (Parley) or CUSTOM_BOT (join)")
		instance := fs.String("instance-id", env("PARLEY_INSTANCE_ID"), "instance id")
		dataDir := fs.String("data-dir", or(env("PARLEY_DATA_DIR"), "parley-data"), "a Parley data dir to read credentials from")
		name := fs.String("name", "", "display name")
		message := fs.String("message", "", "first message (start)")
		contact := fs.String("contact-id", "", "the chat to join (join)")
		if err := parse(fs, rest, 0); err != nil {
			return err
		}
		o.instanceID, o.dataDir, o.name, o.message, o.contactID = *instance, *dataDir, *name, *message, *contact
		return c.startOrJoin(ctx, cmd, o)
	case "send":
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		return c.send(ctx, strings.Join(fs.Args(), " "))
	case "send-file":
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		return c.sendFile(ctx, fs.Arg(0))
	case "download":
		out := fs.String("o", "", "where to write the file (default: its name, in this folder)")
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		return c.download(ctx, fs.Arg(0), *out)
	case "transcript":
		follow := fs.Bool("follow", false, "keep printing what comes next, until the chat ends")
		if err := parse(fs, rest, 0); err != nil {
			return err
		}
		return c.transcript(ctx, *follow)
	case "end":
		if err := parse(fs, rest, 0); err != nil {
			return err
		}
		return c.end(ctx)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown chat command %q", cmd)
}

// parse parses flags that may come before or after the arguments, and
// checks that at least min arguments are left.
func parse(fs *flag.FlagSet, args []string, min int) error {
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	fs.Parse(append([]string{"--"}, positional...)) // leaves them as fs.Args()
	if fs.NArg() < min {
		return fmt.Errorf("%s needs %d argument(s)", fs.Name(), min)
	}
	return nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// identity is the part of a Parley data dir's identity.json this needs.
type identity struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	InstanceID      string `json:"instance_id"`
}

// startOptions are start's and join's flags.
type startOptions struct {
	endpoint, participantEndpoint, instanceID, dataDir string
	flowID, role, name, message, contactID             string
}

func (c *cli) connectClient(ctx context.Context, endpoint, instanceID, dataDir string) (*connect.Client, string, error) {
	akid, secret := c.env("AWS_ACCESS_KEY_ID"), c.env("AWS_SECRET_ACCESS_KEY")
	if akid == "" || instanceID == "" {
		var id identity
		if b, err := os.ReadFile(filepath.Join(dataDir, "identity.json")); err == nil && json.Unmarshal(b, &id) == nil {
			if akid == "" {
				akid, secret = id.AccessKeyID, id.SecretAccessKey
			}
			instanceID = or(instanceID, id.InstanceID)
		}
	}
	if instanceID == "" {
		return nil, "", errors.New("no instance id: set --instance-id, or point --data-dir at Parley's data")
	}
	opts := connect.Options{Region: or(c.env("AWS_REGION"), "us-east-1"), BaseEndpoint: aws.String(endpoint)}
	if akid != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(akid, secret, c.env("AWS_SESSION_TOKEN"))
	} else {
		// Amazon Connect's users keep their keys where the AWS SDKs look.
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil || cfg.Credentials == nil {
			return nil, "", fmt.Errorf("no Connect API credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point --data-dir at Parley's data (%v)", err)
		}
		opts.Credentials = cfg.Credentials
		opts.Region = or(c.env("AWS_REGION"), or(cfg.Region, opts.Region))
	}
	return connect.New(opts), instanceID, nil
}

// participantEndpoint is where the Participant Service of the Connect API
// at endpoint is: Connect's own has a host of its own per region; Parley
// serves both APIs at one address.
func participantEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	region, ok := strings.CutPrefix(u.Hostname(), "connect.")
	if ok && u.Port() == "" {
		if region, ok = strings.CutSuffix(region, ".amazonaws.com"); ok && region != "" && !strings.Contains(region, ".") {
			return "https://participant.connect." + region + ".amazonaws.com"
		}
	}
	return endpoint
}

func (c *cli) startOrJoin(ctx context.Context, cmd string, o startOptions) error {
	cc, instanceID, err := c.connectClient(ctx, o.endpoint, o.instanceID, o.dataDir)
	if err != nil {
		return err
	}
	var d parley.Details
	role := "CUSTOMER"
	if cmd == "start" {
		in := &connect.StartChatContactInput{InstanceId: aws.String(instanceID), ContactFlowId: aws.String(o.flowID),
			ParticipantDetails:             &types.ParticipantDetails{DisplayName: aws.String(or(o.name, "Customer"))},
			SupportedMessagingContentTypes: []string{"text/plain", "text/markdown"}}
		if o.message != "" {
			in.InitialMessage = &types.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String(o.message)}
		}
		d, err = contact.Start(ctx, cc, in)
	} else {
		if o.contactID == "" {
			return errors.New("join needs --contact-id")
		}
		role = strings.ToUpper(o.role)
		if role != "AGENT" && role != "CUSTOM_BOT" {
			return fmt.Errorf("join's --role is AGENT or CUSTOM_BOT, not %q", o.role)
		}
		name := map[string]string{"AGENT": "Agent", "CUSTOM_BOT": "Bot"}[role]
		d, err = contact.Join(ctx, cc, &contact.JoinInput{InstanceID: instanceID, ContactID: o.contactID,
			Role: types.ParticipantRole(role), DisplayName: or(o.name, name)})
	}
	if err != nil {
		return err
	}
	saved := savedSession{Endpoint: o.endpoint, ParticipantEndpoint: or(o.participantEndpoint, participantEndpoint(o.endpoint)),
		ContactID: d.ContactID, ParticipantID: d.ParticipantID, ParticipantToken: d.ParticipantToken, Role: role}
	b, _ := json.MarshalIndent(saved, "", "  ")
	if err := os.WriteFile(c.sessionFile, append(b, '\n'), 0o600); err != nil { // it holds a bearer token
		return err
	}
	if c.json {
		return c.printJSON(map[string]string{"contactId": d.ContactID, "participantId": d.ParticipantID, "role": role, "session": c.sessionFile})
	}
	verb := map[string]string{"start": "Started", "join": "Joined"}[cmd]
	fmt.Fprintf(c.stdout, "%s chat %s as %s (session saved in %s)\n", verb, d.ContactID, strings.ToLower(strings.ReplaceAll(role, "_", " ")), c.sessionFile)
	return nil
}

func (c *cli) printJSON(v any) error {
	return json.NewEncoder(c.stdout).Encode(v)
}

// session opens the saved session for a one-off command.
func (c *cli) session(ctx context.Context) (*parley.Session, error) {
	b, err := os.ReadFile(c.sessionFile)
	if err != nil {
		return nil, fmt.Errorf("no chat session (run 'parley chat start' or 'join' first): %w", err)
	}
	var saved savedSession
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("%s: %w", c.sessionFile, err)
	}
	s := parley.NewSession(parley.Details{ContactID: saved.ContactID, ParticipantID: saved.ParticipantID, ParticipantToken: saved.ParticipantToken},
		parley.Options{Endpoint: or(saved.ParticipantEndpoint, saved.Endpoint)})
	return s, nil
}

func (c *cli) send(ctx context.Context, text string) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	if err := s.Authenticate(ctx); err != nil {
		return err
	}
	sent, err := s.SendText(ctx, text)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(map[string]string{"id": sent.ID, "time": sent.Time.Format(time.RFC3339Nano)})
	}
	fmt.Fprintf(c.stdout, "Sent %s\n", sent.ID)
	return nil
}

func (c *cli) sendFile(ctx context.Context, path string) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	if err := s.Authenticate(ctx); err != nil {
		return err
	}
	bar := c.progressBar("Uploading " + filepath.Base(path))
	id, err := s.SendFile(ctx, path, bar.update)
	bar.finish(err)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(map[string]string{"attachmentId": id, "name": filepath.Base(path)})
	}
	fmt.Fprintf(c.stdout, "Sent %s as attachment %s\n", filepath.Base(path), id)
	return nil
}

func (c *cli) download(ctx context.Context, id, out string) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	if err := s.Authenticate(ctx); err != nil {
		return err
	}
	bar := c.progressBar("Downloading")
	body, info, err := s.DownloadAttachment(ctx, id, bar.update)
	if err != nil {
		bar.finish(err)
		return err
	}
	defer body.Close()
	if out == "" {
		out = saveName(info.Name, id)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		bar.finish(err)
		return err
	}
	_, err = io.Copy(f, body)
	err = errors.Join(err, f.Close())
	bar.finish(err)
	if err != nil {
		os.Remove(out)
		return err
	}
	if c.json {
		return c.printJSON(map[string]any{"path": out, "name": info.Name, "contentType": info.ContentType, "size": info.Size})
	}
	fmt.Fprintf(c.stdout, "Saved %s (%s, %d bytes)\n", out, info.ContentType, info.Size)
	return nil
}

// saveName is where a download goes when the command names no file: the
// base of the name the server gave, in the current folder. The server's
// name is already free of path separators; Base is a second guard, since
// a file name must not choose where it goes. A name that is no file's
// (".", "..", a bare separator, a NUL) gives way to the attachment's id.
func saveName(name, id string) string {
	if b := filepath.Base(name); name != "" && filepath.IsLocal(b) && !strings.ContainsRune(b, 0) {
		return b
	}
	return filepath.Base(id)
}

func (c *cli) transcript(ctx context.Context, follow bool) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	if follow {
		// Connect first, so that nothing falls between the transcript and
		// the live events.
		if err := s.Connect(ctx); err != nil {
			return err
		}
		defer s.Close()
	} else if err := s.Authenticate(ctx); err != nil {
		return err
	}
	// An item that arrives between connecting and reading the transcript is
	// in both: print each once (an attachment once per status).
	printed := map[string]bool{}
	show := func(it parley.Item) {
		key := it.ID
		if len(it.Attachments) > 0 {
			key = it.Attachments[0].ID + "/" + it.Attachments[0].Status
		}
		if !printed[key] {
			printed[key] = true
			c.printItem(it)
		}
	}
	for it, err := range s.Transcript(ctx, parley.TranscriptOptions{Ascending: true}) {
		if err != nil {
			return err
		}
		show(it)
	}
	if !follow {
		return nil
	}
	for {
		var e parley.Event
		select {
		case <-ctx.Done(): // Ctrl-C: stop following
			return nil
		case ev, ok := <-s.Events():
			if !ok {
				return nil
			}
			e = ev
		}
		switch e := e.(type) {
		case *parley.Message:
			show(e.Item)
		case *parley.AttachmentEvent:
			show(e.Item)
		case *parley.ParticipantEvent:
			show(e.Item)
		case *parley.Typing:
			if !c.json {
				fmt.Fprintf(c.stderr, "%s is typing…\n", e.DisplayName)
			}
		case *parley.ChatEnded:
			show(e.Item)
			return nil
		case *parley.ConnectionLost:
			fmt.Fprintf(c.stderr, "connection lost (%v); reconnecting…\n", e.Err)
		}
	}
}

func (c *cli) printItem(it parley.Item) {
	if c.json {
		c.printJSON(it)
		return
	}
	at := it.Time.Local().Format("15:04:05")
	who := or(it.DisplayName, strings.ToLower(it.ParticipantRole))
	switch {
	case it.Type == "MESSAGE":
		fmt.Fprintf(c.stdout, "%s %s: %s\n", at, who, it.Content)
	case len(it.Attachments) > 0:
		a := it.Attachments[0]
		fmt.Fprintf(c.stdout, "%s %s sent %s [%s, %s] id %s\n", at, who, a.Name, a.ContentType, a.Status, a.ID)
	case it.ContentType != "":
		event := strings.TrimPrefix(it.ContentType, "application/vnd.amazonaws.connect.event.")
		if who == "" || it.ParticipantRole == "SYSTEM" {
			fmt.Fprintf(c.stdout, "%s — %s\n", at, event)
		} else {
			fmt.Fprintf(c.stdout, "%s — %s: %s\n", at, who, event)
		}
	}
}

func (c *cli) end(ctx context.Context) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	if err := s.Authenticate(ctx); err != nil {
		return err
	}
	if err := s.Disconnect(ctx); err != nil {
		return err
	}
	if c.json {
		return c.printJSON(map[string]bool{"left": true})
	}
	fmt.Fprintln(c.stdout, "Left the chat.")
	return nil
}
