package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/robotlabor/billing/auth"
	"github.com/spf13/cobra"
)

func tokenCommand() *cobra.Command {
	cfg := configFromEnv()
	var user string
	var ttl time.Duration
	var initKey bool
	cmd := &cobra.Command{
		Use:   "token --user USER_ID",
		Short: "Print a bearer token for a user, signed with the key serve uses for this data dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, from, err := auth.LoadKey(cfg.JWTSecret, cfg.DataDir)
			if errors.Is(err, auth.ErrNoKey) && initKey {
				key, err = auth.LoadOrCreateKey("", cfg.DataDir)
			}
			if errors.Is(err, auth.ErrNoKey) {
				return fmt.Errorf("%w: serve creates it on its first start; run token on serve's data dir (--data-dir, BILLING_DATA_DIR) "+
					"or with its BILLING_JWT_SECRET, or pass --init to create a key here", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "signed with", from)
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
	cfg.bindJWTSecret(cmd.Flags())
	cmd.Flags().StringVar(&user, "user", "", "the user id (the token's subject)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	cmd.Flags().BoolVar(&initKey, "init", false, "create the data dir's key when it has none (serve then uses it)")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}
