package routerd

import (
	"flag"
	"io"
)

// ParseArgs parses the flags Settings.Args writes (and --dir, --upgrade) into
// Options, for programs that run a router without the sluice command line (test
// binaries standing in for `sluice router`).
func ParseArgs(args []string) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Dir, "dir", "", "")
	fs.StringVar(&o.Settings.Listen, "listen", "", "")
	fs.StringVar(&o.Settings.Admin, "admin", "", "")
	fs.StringVar(&o.Settings.Mode, "mode", "", "")
	fs.StringVar(&o.Settings.TLSCert, "tls-cert", "", "")
	fs.StringVar(&o.Settings.TLSKey, "tls-key", "", "")
	fs.StringVar(&o.Settings.MirrorTo, "mirror-to", "", "")
	fs.IntVar(&o.Settings.MirrorPercent, "mirror-percent", 0, "")
	fs.BoolVar(&o.Upgrade, "upgrade", false, "")
	fs.DurationVar(&o.DrainGrace, "drain", 0, "")
	return o, fs.Parse(args)
}
