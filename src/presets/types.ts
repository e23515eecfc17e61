/** One provider's part of a starter config: a route block and the variables it needs. */
export interface ProviderPreset {
  name: string;
  /** YAML lines of one `routes:` entry, indented for the list (two spaces), with comments. */
  route: string;
  /** `.env.example` lines: comments and VAR=example pairs. */
  env: string;
  /** Extra steps printed by `init` (e.g. a CA to download). */
  steps?: string[];
}
