package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/byov/byov/sdk"
)

func init() {
	register("completion", "Print a shell completion script (bash or zsh)", cmdCompletion)
	register("version", "Print byov's version", func([]string) error {
		fmt.Fprintf(stdout, "byov %s (connector protocol %d)\n", version, sdk.ProtocolVersion)
		return nil
	})
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// cmdCompletion prints a completion script built from the command table, so
// it never falls behind the commands.
func cmdCompletion(args []string) error {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		return fmt.Errorf("say which shell: `byov completion bash` or `byov completion zsh`; then source its output, e.g. `source <(byov completion bash)`")
	}
	groups := map[string][]string{}
	var top []string
	for name := range commands {
		group, sub, found := strings.Cut(name, " ")
		if !found {
			top = append(top, name)
			continue
		}
		if _, seen := groups[group]; !seen {
			top = append(top, group)
		}
		groups[group] = append(groups[group], sub)
	}
	sort.Strings(top)
	var cases strings.Builder
	for group, subs := range groups {
		sort.Strings(subs)
		fmt.Fprintf(&cases, "    %s) words=%q ;;\n", group, strings.Join(subs, " "))
	}
	script := fmt.Sprintf(`_byov() {
  local cur words
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    words=%q
  else
    case "${COMP_WORDS[1]}" in
%s    *) words="" ;;
    esac
    [ "$COMP_CWORD" -gt 2 ] && words=""
  fi
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -o default -F _byov byov
`, strings.Join(top, " "), cases.String())
	if args[0] == "zsh" {
		script = "autoload -U +X bashcompinit && bashcompinit\n" + script
	}
	fmt.Fprint(stdout, script)
	return nil
}
