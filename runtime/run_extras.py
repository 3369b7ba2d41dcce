"""What the command line's `--prometheus`, `--stacks-out` and `--flamegraph`
add to a run: an exporter serving the live maps from load to close, and,
at exit, the stack maps written as folded stacks and as an SVG flame graph
(beside the usual map output)."""

from __future__ import annotations

import sys


class UsageError(ValueError):
    pass


class RunExtras:
    def __init__(self, args, artifact) -> None:
        self.args = args
        self.artifact = artifact
        self.exporter = None
        self.address = None
        if args.prometheus:
            from pytrace.runtime.exporters import prometheus

            try:
                self.address = prometheus.parse_address(args.prometheus)
            except ValueError as e:
                raise UsageError(str(e)) from None

    def on_loaded(self, session) -> None:
        """The maps exist: serve them."""
        if self.address is None:
            return
        from pytrace.runtime.exporters import prometheus

        host, port = self.address
        try:
            self.exporter = prometheus.serve(self.artifact, session.read_map, host, port)
        except OSError as e:
            raise UsageError(f"cannot serve Prometheus metrics on {host}:{port}: {e.strerror}") from None
        if not self.args.quiet:
            sys.stderr.write(f"Serving Prometheus metrics at {self.exporter.url}\n")

    def on_closing(self) -> None:
        if self.exporter is not None:
            self.exporter.close()
            self.exporter = None

    def wrap(self, out):
        """The run's output, writing the stack files at exit when asked to."""
        if self.args.stacks_out or self.args.flamegraph:
            return _StackFiles(out, self.args.stacks_out, self.args.flamegraph)
        return out


class _StackFiles:
    """A Writer that also writes the exit maps' stacks to files."""

    def __init__(self, out, stacks_out: str | None, flamegraph: str | None) -> None:
        self._out = out
        self.stacks_out = stacks_out
        self.flamegraph = flamegraph

    def exit_maps(self, maps: list) -> None:
        self._out.exit_maps(maps)
        from pytrace.runtime.output import folded

        paths: dict[str, int] = {}
        for m in maps:
            for path, count in folded.fold(m).items():
                paths[path] = paths.get(path, 0) + count
        if not paths:
            self._out.warning("WARNING: no map keyed by a stack (kstack/ustack) has samples: "
                              "no stacks written\n")
        if self.stacks_out:
            with open(self.stacks_out, "w", errors="surrogateescape") as f:
                f.write(folded.format_folded(paths))
        if self.flamegraph:
            from pytrace.runtime import flamegraph

            with open(self.flamegraph, "w", errors="surrogateescape") as f:
                f.write(flamegraph.render(paths))

    def __getattr__(self, name: str):
        return getattr(self._out, name)
