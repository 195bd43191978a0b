package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/decisionlog"
)

func (c *cli) decisionLogsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "decision-logs", Short: "Read the OPA decision logs services upload to POST /logs"}
	cmd.AddCommand(c.decisionLogsListCmd())
	return cmd
}

func (c *cli) decisionLogsListCmd() *cobra.Command {
	var q decisionlog.Query
	var since, until, outcome, cursor string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print stored decisions, newest first, one JSON object per line; the next page's cursor goes to stderr",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			var err error
			if q.Since, err = optionalTime("--since", since); err != nil {
				return err
			}
			if q.Until, err = optionalTime("--until", until); err != nil {
				return err
			}
			switch outcome {
			case "":
			case "allowed", "denied":
				allowed := outcome == "allowed"
				q.Allowed = &allowed
			default:
				return fmt.Errorf("--outcome %q: want allowed or denied", outcome)
			}
			if q.Limit < 1 || q.Limit > decisionlog.MaxPageSize {
				return fmt.Errorf("--limit must be between 1 and %d", decisionlog.MaxPageSize)
			}
			if q.Subject, err = a.SubjectID(ctx, q.Subject); err != nil {
				return err
			}
			// Listing uses none of the upload limits or the retention.
			page, err := a.DecisionLogs(config.DecisionLogs{}).List(ctx, q, cursor)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.Out)
			for _, e := range page.Entries {
				if err := enc.Encode(e); err != nil {
					return err
				}
			}
			if page.Next != "" {
				fmt.Fprintf(c.Err, "more: add --cursor %s for the next page\n", page.Next)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only decisions made at or after this RFC 3339 time")
	f.StringVar(&until, "until", "", "only decisions made before this RFC 3339 time")
	f.StringVar(&q.DecisionID, "decision-id", "", "only the decision with this id")
	f.StringVar(&q.Path, "path", "", "only decisions of this policy path (gaia/authz/decision)")
	f.StringVar(&outcome, "outcome", "", "only allowed or only denied decisions")
	f.StringVar(&q.Subject, "subject", "", "only decisions about tokens of this subject: a username, a service account name or a subject id")
	f.IntVar(&q.Limit, "limit", decisionlog.DefaultPageSize, "most decisions to print")
	f.StringVar(&cursor, "cursor", "", "the page after the one that printed this cursor")
	return cmd
}

func optionalTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-11-26T02:00:00Z", flag, v)
	}
	return t, nil
}
