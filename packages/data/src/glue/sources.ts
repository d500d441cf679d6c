/**
 * Where the official GLUE files come from (kept in step with datasets/glue.json by a test).
 * SST-2, CoLA and RTE: the per-task zips on GLUE's storage at dl.fbaipublicfiles.com. MRPC: GLUE never hosted it
 * (licence); GLUE's own download script builds it from the SentEval copies of Microsoft's train/test files plus
 * GLUE's list of dev pair ids, and so do we. Checksums are sha256 as published by third parties (see the
 * manifest); null where none is known.
 */
import type { GlueTaskName } from './tasks.js';

export interface GlueDownloadFile {
  url: string;
  fileName: string;
  /** Expected sha256 (hex) of the download; null when unknown (the file is then checked by structure only). */
  sha256: string | null;
  bytes?: number;
}

export const GLUE_DOWNLOADS: Readonly<Record<GlueTaskName, readonly GlueDownloadFile[]>> = {
  sst2: [{ url: 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip', fileName: 'SST-2.zip', sha256: 'd67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa' }],
  cola: [{ url: 'https://dl.fbaipublicfiles.com/glue/data/CoLA.zip', fileName: 'CoLA.zip', sha256: 'f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff' }],
  rte: [{ url: 'https://dl.fbaipublicfiles.com/glue/data/RTE.zip', fileName: 'RTE.zip', sha256: '6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee' }],
  mrpc: [
    {
      url: 'https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt',
      fileName: 'msr_paraphrase_train.txt',
      sha256: '60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89',
      bytes: 1_047_044,
    },
    {
      url: 'https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_test.txt',
      fileName: 'msr_paraphrase_test.txt',
      sha256: 'a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784',
      bytes: 441_275,
    },
    {
      url: 'https://dl.fbaipublicfiles.com/glue/data/mrpc_dev_ids.tsv',
      fileName: 'mrpc_dev_ids.tsv',
      sha256: '971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7',
      bytes: 6_222,
    },
  ],
};

/** Microsoft's original MRPC installer (what GLUE's own MRPC files were made from); needs an MSI/CAB extractor, not used. */
export const MRPC_ORIGINAL_MSI_URL = 'https://download.microsoft.com/download/D/4/6/D46FF87A-F6B9-4252-AA8B-3604ED519838/MSRParaphraseCorpus.msi';
