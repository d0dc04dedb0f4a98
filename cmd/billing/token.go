package main

import (
	"fmt"
	"time"

	"github.com/robotlabor/billing/auth"
	"github.com/spf13/cobra"
)

func tokenCommand() *cobra.Command {
	cfg := configFromEnv()
	var user string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --user USER_ID",
		Short: "Print a bearer token for a user, signed with the key serve uses for this data dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := auth.LoadOrCreateKey(cfg.JWTSecret, cfg.DataDir)
			if err != nil {
				return err
			}
			keys, err := auth.New(key, nil)
			if err != nil {
				return err
			}
			tok, err := keys.Issue(user, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cfg.bindFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&user, "user", "", "the user id (the token's subject)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}
