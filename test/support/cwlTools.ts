// The CWL tools the pipeline e2e tests run as service Resources, in the CWL step image (which
// holds the in-pod entrypoint): one definition for every test that needs them.

export const cwlStepImage = "archipel.local/cwl-step:dev";

/** Writes its `message` (then `suffix`) into greeting.txt, its output `out`; optionally sleeps after. */
export function writerTool(opts: { suffix?: string; sleepSeconds?: number } = {}): Record<string, unknown> {
  const sleep = opts.sleepSeconds ? `; sleep ${opts.sleepSeconds}` : "";
  return {
    cwlVersion: "v1.2",
    class: "CommandLineTool",
    baseCommand: ["bash", "-c", `printf "%s${opts.suffix ?? ""}" "$0" > greeting.txt${sleep}`],
    inputs: { message: { type: "string", inputBinding: { position: 1 } } },
    outputs: { out: { type: "File", outputBinding: { glob: "greeting.txt" } } },
  };
}

/** Upper-cases the File `text` into its output `shouted`. */
export const shouterTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["tr", "a-z", "A-Z"],
  stdin: "$(inputs.text.path)",
  stdout: "upper.txt",
  inputs: { text: "File" },
  outputs: { shouted: "stdout" },
};

/** Fails with a message on stderr and exit code 7. */
export const failingTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["bash", "-c", 'echo "the disk is full" >&2; exit 7'],
  inputs: { text: "File" },
  outputs: { shouted: { type: "File", outputBinding: { glob: "never.txt" } } },
};

/** Writes `size` bytes ("x" repeated) into big.txt, its output `big`. */
export const fillerTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["bash", "-c", `head -c "$0" /dev/zero | tr '\\0' x > big.txt`],
  inputs: { size: { type: "int", inputBinding: { position: 1 } } },
  outputs: { big: { type: "File", outputBinding: { glob: "big.txt" } } },
};

/** Counts the bytes of the File `data` (and checks they are all "x") into its output `count`. */
export const byteCounterTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["bash", "-c", `printf "%s %s" "$(wc -c < "$0")" "$(tr -d x < "$0" | wc -c)" > count.txt`],
  inputs: { data: { type: "File", inputBinding: { position: 1 } } },
  outputs: { count: { type: "File", outputBinding: { glob: "count.txt" } } },
};

/** Copies the File `text` and appends `suffix`, into its output `stamped`. */
export function appenderTool(suffix: string): Record<string, unknown> {
  return {
    cwlVersion: "v1.2",
    class: "CommandLineTool",
    baseCommand: ["bash", "-c", `cat "$0" > stamped.txt; printf "%s" "${suffix}" >> stamped.txt`],
    inputs: { text: { type: "File", inputBinding: { position: 1 } } },
    outputs: { stamped: { type: "File", outputBinding: { glob: "stamped.txt" } } },
  };
}

/** Joins the Files `first` and `second`, one per line (in that order), into its output `joined`. */
export const joinerTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["bash", "-c", `printf "%s\\n%s" "$(cat "$0")" "$(cat "$1")" > joined.txt`],
  inputs: { first: { type: "File", inputBinding: { position: 1 } }, second: { type: "File", inputBinding: { position: 2 } } },
  outputs: { joined: { type: "File", outputBinding: { glob: "joined.txt" } } },
};

/** Lists the Directory `tree` as `<path>=<contents>` lines, sorted by path, into its output `listing`. */
export const treeListerTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["bash", "-c", `cd "$0" && find -L . -type f | sort | while read -r f; do printf "%s=%s\\n" "$f" "$(cat "$f")"; done > "$OLDPWD/listing.txt"`],
  inputs: { tree: { type: "Directory", inputBinding: { position: 1 } } },
  outputs: { listing: { type: "File", outputBinding: { glob: "listing.txt" } } },
};

/** Splits the File `text` by line into the Directory `parts`: line n in parts/n/line.txt. */
export const splitterTool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["bash", "-c", `n=0; while IFS= read -r line; do n=$((n+1)); mkdir -p "parts/$n"; printf "%s" "$line" > "parts/$n/line.txt"; done < "$0"`],
  inputs: { text: { type: "File", inputBinding: { position: 1 } } },
  outputs: { parts: { type: "Directory", outputBinding: { glob: "parts" } } },
};
