"""Error messages with codes, in the manner of spacy/errors.py."""


class ErrorsWithCodes(type):
    def __getattribute__(self, code):
        msg = super().__getattribute__(code)
        if code.startswith("__"):
            return msg
        return f"[{code}] {msg}"


class Warnings(metaclass=ErrorsWithCodes):
    """Warning messages with codes (``[W001] ...``), as spaCy's ``Warnings``."""

    W001 = ("{order}-gram Kneser-Ney discounts cannot be estimated from counts-of-counts n1..n4 = {n} "
            "(small data); using the fallback {fallback}.")

    # W010-W014: nothing scored (perplexity scorers, corpus perplexity).
    W010 = ("The language model scored no token (an empty dev corpus, or docs without lm annotations): "
            "lm_perplexity, lm_loss, lm_accuracy and lm_score are None. `spacy train` shows a missing "
            "score as 0.00 in its table and meta.json; that is not a perfect score.")
    W011 = ("Nothing was scored: the corpus gave {n_docs} docs and no token to predict (an empty file, "
            "blank lines only, or an empty DocBin?); every lm_* score is None (null in JSON). Use "
            "strict=True (--strict) to make this an error.")


class Errors(metaclass=ErrorsWithCodes):
    E001 = ("The language-model vocabulary is empty: no token type occurs at least min_freq={min_freq} "
            "times in {n_tokens} training tokens. Lower `min_freq` or train on more text.")
    E002 = "max_size={max_size} leaves no room for token types beyond the special tokens {specials}."
    E003 = ("Cannot initialize '{name}': the training corpus has no tokens. Check the reader in "
            "[initialize] / [corpora.train].")
    E004 = ("The loss of '{name}' is {loss} (not finite). Lower the learning rate, enable gradient "
            "clipping ([training.optimizer] grad_clip), or check the data for empty windows.")
    E005 = "'{name}' is not initialized: call nlp.initialize() or train it with `spacy train` first."
    E006 = ("Cannot load '{name}' from {path}: {reason}. The directory is incomplete or corrupt; "
            "save the pipeline again with nlp.to_disk.")
    E007 = ("'{name}' was saved by spacy-lm with format version {found}; this version reads format "
            "{expected}. Retrain or re-save the pipeline with a matching spacy-lm.")
    E008 = "Unknown token attribute '{attr}' for the language-model vocabulary; choose from {options}."
    # E009: a setting out of range (spacy_lm.checks.check_setting); ``setting`` may start with what it
    # belongs to ("spacy_lm.ParallelCorpus.v1: limit"). E043, E085, E145, E160 and E168-E170 are
    # aliases kept for users who match on them; new checks use E009.
    E009 = "{setting} must be {requirement}, got {value!r}."
    E010 = "Expected a Doc, got {type}: {what}."
    E011 = "Cannot read or write the ARPA file {path}: {reason}."
    E012 = ("Cannot estimate Kneser-Ney discounts for {order}-grams: counts-of-counts n1..n4 = {n} "
            "(small or artificial data). Set `discount_fallback` (lmplz's default is [0.5, 1.0, 1.5]) "
            "or train on more text.")
    E013 = ("prune must list non-negative, non-decreasing raw-count thresholds per order, starting "
            "with 0 (unigrams are never pruned), e.g. [0, 0, 1]; got {prune}.")
    E014 = ("The VADER lexicon needs the package `vaderSentiment` (MIT), a dependency of spacy-lm that "
            "is missing or damaged here: install it again with `pip install \"spacy-lm[sentiment]\"` (or "
            "`pip install --force-reinstall vaderSentiment`), or point `lexicon` at your own TSV file "
            "(word<TAB>valence per line).")
    E015 = "Cannot read the sentiment lexicon {path} (line {line}): {reason}."
    E016 = ("'{name}' has no sentiment labels. Give `label_values` ({{label: polarity in [-1, 1]}}) "
            "or [initialize.components.{name}] labels, or train on examples whose doc.cats name the labels.")
    E017 = ("'{name}': label_values must map each label to a polarity in [-1, 1]; for target='real' "
            "exactly one label (its cats value in [0, 1] is the positivity). Got {value!r}.")
    E018 = ("'{name}' got gold cats {cats} that name none of its labels {labels}. Check the reader's "
            "labels or the component's label_values.")
    E020 = "tie_weights needs embed_size == width, got embed_size={embed_size}, width={width}."
    E021 = ("Set the vocabulary size (dim 'nV') before initializing the language model: the component "
            "does this in initialize() from its vocabulary.")
    E022 = ("'{name}' needs a model with the contract spacy_lm.types.{contract} ({methods}); {model} "
            "lacks {missing}. Use an architecture that implements it (see spacy_lm/types.py).")
    E023 = ("'{name}': the saved model's vocabulary size nV={found} differs from the vocabulary's "
            "{expected} entries. The directory mixes files of two pipelines; save it again with nlp.to_disk.")
    E024 = "{what} needs at least one prompt."
    E033 = "{what} needs at least one state to join."
    # E034-E035: loading a saved component (spacy_lm/pipeline/serialization.py).
    E034 = ("'{name}': the vocabulary file lm_vocab in {path} does not match the one the model was "
            "trained with ({detail}); the directory mixes files of two pipelines: save it again with "
            "nlp.to_disk.")
    E035 = ("'{name}': {configured} but the saved weights have {saved} ({detail}): the config was "
            "edited after saving; restore it or retrain.")
    E025 = ("{what} needs a unidirectional recurrent stack: a bidirectional one reads the future.")
    E026 = ("The {listener} (upstream '{upstream}') received no hidden states for this batch. Put the "
            "upstream lstm_lm before this component; if it is in [training] frozen_components, also list "
            "it in [training] annotating_components.")
    E027 = ("The {listener} got a different batch of docs (id {found}) from the one its upstream "
            "'{upstream}' last encoded (id {expected}). If the upstream is frozen, list it in [training] "
            "annotating_components too.")
    E028 = "'{name}': initialize(corpus={corpus!r}) needs the pipeline: call it with nlp=... (nlp.initialize does)."
    E029 = ("text_generator '{name}' decodes from '{lm}', which is not in the pipeline {pipe_names}. "
            "Set [components.{name}] lm = \"...\".")
    E030 = ("Component '{lm}' is not a language model (it lacks initial_state, prime, step or "
            "select_state; see spacy_lm.types.LanguageModel).")
    E031 = "A prompt must be a str or a Doc, got {type}."
    E032 = "A language-model vocabulary must start with the special tokens {specials}, got {found}."
    # Codes E020-E039: the recurrent core (lstm_lm, batching, architectures); E040-E059: sentiment,
    # explain, scorers, text classification; E060-E099: readers, n-gram, decoding, CLI, the rest;
    # E100-E119: recurrent layers (LSTM, GRU).
    E100 = "{cell} state must have shape {expected} (depth * directions, batch, width), got {found}."
    E101 = ("Cannot tie output weights ({nO} x {nI}) to an embedding table ({nV} x {width}): sizes differ.")
    E102 = "A recurrent layer got {n} lengths for a batch of {B} sequences."
    # E103-E104: output layers.
    E103 = ("AdaptiveSoftmax cutoffs must be strictly increasing integers in [1, nO - 1], where nO is "
            "the number of classes (a language model's vocabulary size nV); got cutoffs={cutoffs} for "
            "nO={nO}. Ids are frequency-sorted, so a cutoff is the id where a cluster starts: lower the "
            "cutoffs (or use output = \"full\" for a small vocabulary).")
    E104 = ("Cannot tie the adaptive softmax head ({c0} words x {nI}) to an embedding table ({nV} x "
            "{width}): the embedding width must equal nI and its table must have nO={nO} rows.")

    # E060-E067: n-gram tables, corpus readers.
    E060 = ("The n-gram tables are inconsistent: {reason}. The model data is corrupt or was edited by "
            "hand; rebuild it (nlp.initialize) or read it again from its ARPA file.")
    E061 = ("{reader} needs a path, got None: is paths.train / paths.dev set? Set it in the config or "
            "on the command line (--paths.train corpus.txt).")
    E062 = "Cannot read the text corpus {path}: {reason}."
    E063 = ("{reader} needs HuggingFace `datasets`, an optional extra of spacy-lm (inference never "
            "needs it): pip install \"spacy-lm[datasets]\" (or pip install datasets).")
    E064 = ("Text field '{field}' not in the dataset; available columns: {columns}. Set text_field to "
            "one of them.")
    E065 = "Record {i}: field '{field}' must be a str, got {type}{hint}."
    E066 = ("{path} has no column(s) {missing}; its header is {header}. Set text_column / label_column "
            "to names in the header.")
    E067 = ("{path}: label {raw!r} is not in the reader's labels {labels}. Add it to `labels` (raw "
            "label -> category name), or set labels to null to use the raw labels as names.")
    # E068-E072: decoding.
    E068 = ("Beam sampling (num_beams > 1 with do_sample=True) is not supported: set do_sample=False "
            "for beam search, or num_beams=1 to sample.")
    E069 = ("Greedy decoding returns one sequence, got num_return_sequences={n}: set do_sample=True, "
            "or num_beams >= num_return_sequences for beam search.")
    E070 = "Unknown generation setting(s) {unknown}; valid settings: {valid}."
    E071 = ("{type} does not implement the LanguageModel protocol (lm_vocab, ops, initial_state, "
            "prime, step, select_state; see spacy_lm/types.py).")
    E072 = ("Prompt {i} has token ids {ids} outside the vocabulary (0..{last}); map unknown words to "
            "lm_vocab.unk_id.")
    # E073-E076: tokenizer, visualize, weighted text classification.
    E073 = "WhitespaceTokenizer expects a str, got {type}{hint}."
    E074 = ("render_sentiment needs docs annotated by a sentiment_scorer component; doc {i} ({text!r}) "
            "has no sentiment_polarity. Run the docs through a pipeline with sentiment_scorer.")
    E075 = ("'{name}' got gold label(s) {unknown} it does not know (labels: {labels}). Add them in "
            "[initialize.components] labels or with add_label before training.")
    E076 = ("class_weights name label(s) {unknown} that '{name}' does not have (labels: {labels}). "
            "Fix the names in the component's class_weights.")
    # E077-E078: stream reading and stream scoring.
    E077 = ("{path} has {n_tokens} tokens, fewer than n_streams={n_streams}: every stream would be empty. "
            "Lower n_streams (or limit = 0 to read the whole file).")
    E078 = ("'{name}' cannot score a corpus as one stream (it has no score_stream method); drop --stream, "
            "or pick a component that has one (lstm_lm, ngram_lm) with --component.")

    # E079: non-finite outputs at inference (spacy_lm.checks.require_finite).
    E079 = ("'{name}' computed {what} that are not finite (NaN or infinite): the model's weights are not "
            "finite (training diverged, or its files were damaged). Load an earlier checkpoint (e.g. "
            "model-best) or retrain it with a lower learning rate or gradient clipping.")

    # E085-E092: command-line options and inputs (spacy_lm/cli, corpus.py).
    E085 = E009  # alias: a command-line option, named as typed (--batch-size)
    E086 = ("Nothing was scored: the corpus gave {n_docs} docs and no token to predict (an empty file, "
            "blank lines only, or an empty DocBin?). Check the input, or drop strict (--strict) to get "
            "null scores.")
    E087 = "Cannot read {path} as a DocBin (.spacy file written by DocBin.to_disk): {reason}"
    E088 = "--gpu-id {gpu_id}: cannot use the GPU ({reason}). Use --gpu-id -1 for the CPU."

    # E120-E129: sentence_vae.
    E120 = E022  # sentence_vae's model lacks a method: one message for every component
    E121 = ("'{name}' cannot encode an empty sentence (doc {i}: {text!r}): give it at least one token that "
            "is not whitespace.")
    E122 = ("'{name}': every token of doc {i} ({text!r}, {n} tokens) is unknown to the model's vocabulary "
            "(attr {attr}), so its latent code says nothing about its words. Check the text, the tokenizer, "
            "or train on text like it.")
    E123 = ("'{name}': latent codes must be a finite array of shape (n, {nZ}), got shape {shape} (or "
            "non-finite values).")
    E125 = ("spacy_lm.vae_scorer.v1 scores with the sentence_vae component itself (lm=...), which "
            "sentence_vae's score() passes: use it as [components.sentence_vae.scorer].")

    # E130-E139: translator
    E130 = ("dot attention needs the decoder width ({nQ}) to equal the memory width ({nM}, the "
            "encoder's width times its directions): use attention = \"general\" or \"bahdanau\", or match them.")
    E131 = E022  # translator's model lacks a method: one message for every component
    E132 = ("'{name}': training example {i} has no target text in reference._.translation (got {value!r}): "
            "read parallel data with spacy_lm.ParallelCorpus.v1, which puts the target there.")
    E133 = ("'{name}' found no target tokens in the training examples: every reference._.translation "
            "was empty.")
    E134 = ("'{name}': the conditioned language model holds {n_held} {conditions}, one per sequence, but was "
            "asked for {n} sequences: give one prompt (usually empty; for a translator, a target prefix) per "
            "condition.")
    E124 = E134  # alias: sentence_vae's latent decoder (conditions: latent codes) is a conditioned LM
    E135 = ("'{name}': text to translate must be a str or a Doc, got {type}.")
    E136 = ("Component '{name}' is not a translator (a {factory} component has no translate_docs): pick "
            "a translator with --component, or leave it out to use the first (components: {names}).")
    E137 = ("render_attention: item {i} ({text!r}) has no attention weights: translate with the translator's "
            "store_attention set (cfg), or with translate_lines(..., attention=True).")
    E138 = ("render_attention: item {i} ({text!r}) needs attention of shape ({rows}, {cols}) (output tokens x "
            "source tokens + <eos>) with finite weights, got shape {shape}.")

    # E040-E059: sentiment, explain, scorers, text classification
    E040 = "No component '{name}' in the pipeline; it has {names}."
    E041 = "The pipeline has no {what} component (components: {names})."
    E042 = "Integrated gradients need steps >= 1, got {steps!r}."
    E043 = E009  # alias: a recurrent encoder's setting, named after its architecture
    E044 = ("Gold {attr} label(s) {unknown} are not among the component's labels {labels}; add them "
            "to the component (or its [initialize] labels) first.")
    E045 = ("spacy_lm.TextCatLSTM.v1 with a linear_model cannot add labels after initialization (asked "
            "for {nO} labels): add every label before nlp.initialize (or leave linear_model out).")
    E046 = ("with_time_major wraps a recurrent cell (forward on (X, lengths, state), see "
            "spacy_lm/layers/recurrent.py); the layer {name!r} has no {missing}.")

    # E047-E048: spacy_lm.TextCatCorpus.v1 reading DocBin (.spacy) files.
    E047 = ("{path}: doc {i} has cats {unknown} that are neither raw labels nor names in the reader's "
            "labels {labels}. A DocBin's cats are usually the category names already: add them to "
            "`labels` (raw label -> name), or set `labels` to null to keep the cats as they are (with "
            "configs/textcat_lstm.cfg: --corpora.train.labels null --corpora.dev.labels null).")
    E048 = ("{path}: doc {i} ({text!r}) has no cats. Every doc of a text-classification corpus needs "
            "its gold labels in doc.cats (e.g. {{\"POS\": 1.0, \"NEG\": 0.0}}) before DocBin.to_disk.")

    # E140-E149: parallel corpora (parallel.py), translation metrics and scorer.
    E140 = ("{reader} needs exactly one source: source_path and target_path (two aligned text files), "
            "path (a TSV or JSONL file) or dataset (a HuggingFace dataset); got {given}. Are the paths "
            "set (--paths.train ...)?")
    E141 = ("The parallel files differ in length: {source} has {n_source} lines, {target} has {n_target} "
            "({names}); line i of one must translate line i of the other.")
    E142 = ("{where}: no field {field!r}; available: {available}. Set source_field / target_field (JSONL "
            "and datasets: field names, or language codes of a \"translation\" object; TSV: header names "
            "or 0-based column indices).")
    E143 = "{where}: {reason}."
    E144 = ("Cannot tell the format of the parallel corpus {path} (format={format!r}): set format to one "
            "of {formats}, or name the file .tsv, .jsonl or .json (optionally .gz).")
    E145 = E009  # alias: a ParallelCorpus.v1 setting (where="spacy_lm.ParallelCorpus.v1")
    E146 = ("Translation metrics need sacreBLEU, an optional extra of spacy-lm: "
            "pip install \"spacy-lm[translation]\" (or pip install \"sacrebleu>=2.3\").")
    E147 = ("Example {i} ({text!r}) has no reference translation (reference._.translation is None): read "
            "parallel data with spacy_lm.ParallelCorpus.v1, or set doc._.translation on each reference doc.")
    E148 = ("spacy_lm.translation_scorer.v1 scores with the translator component itself (lm=...), which "
            "translator's score() passes: use it as [components.translator.scorer].")
    E149 = "Translation metrics need one reference per hypothesis, got {n_hyp} hypotheses and {n_ref} references."

    # E150-E159: web-scale corpus readers (corpora/web.py, corpora/web_formats.py).
    E150 = "Unknown corpus format {format!r}: use one of {formats}."
    E151 = ("Cannot tell the format of {source} from its name: name it .warc.wet[.gz], .xml[.bz2], "
            ".jsonl[.gz], .parquet or .txt[.gz], prefix a datasets name with hf:, or pass the format "
            "(one of {formats}).")
    E152 = "{source} is not a datasets source: write hf:NAME[:CONFIG][@SPLIT], e.g. hf:wikimedia/wikipedia:20231101.en@train."
    E153 = "Input {path} does not exist."
    E154 = "Input {path} is a directory: give its files (e.g. DIR/*.jsonl.gz)."
    E155 = "Cannot read {path}: the file is damaged or not in the format its name says ({error})."
    E156 = ("Reading Common Crawl WET files needs warcio, an optional extra of spacy-lm: "
            "pip install \"spacy-lm[warc]\".")
    E157 = "{where}: no field {field!r}; available: {available}. Set text_field / id_field (--text-field, --id-field)."
    E158 = "spacy_lm.WebCorpus.v1: path must be a path or a non-empty list of paths, got {value!r}."
    E159 = "spacy_lm.WebCorpus.v1: limit must be an integer >= 0 (0: all), got {value!r}."

    # E160-E169: corpus scoring and filtering (scoring/, `spacy lm score`).
    E160 = E009  # alias: a corpus-scoring setting (where="spacy lm score")
    E161 = ("Cannot compute the bucket cutoffs at percentiles {bucket}: no document of the sample could be "
            "scored (all rejected, or all removed by the prefilter). Give the cutoffs (--cutoffs) instead.")
    E162 = ("Cannot write {path} as parquet: the rows' fields do not fit one table ({reason}). Write JSONL "
            "(--format jsonl), or read the input with a consistent type per field.")
    E163 = ("{path} is not a valid manifest ({reason}): it was damaged, or is not ours. Delete it (or move it "
            "away) to score everything again, or use another --output.")
    E164 = ("The output folder {path} holds results scored with other settings ({changed}): resuming would "
            "mix them. Use another --output, or the same settings.")
    E165 = ("A scoring worker died {tries} times on {text}: giving up (out of memory? a crash in a custom "
            "component?).")
    E166 = ("--engine ray needs Ray Data, an optional extra of spacy-lm: pip install \"spacy-lm[ray]\" (or "
            "pip install \"ray[data]>=2.9\").")
    E167 = "The Ray engine returned no outcome, or two, for the input range(s) {pos}: a bug."

    # E168-E171: discriminative learning rates and gradual unfreezing (training/layer_groups.py).
    # E168-E170 are aliases of E009 (set_layer_group's group, DiscriminativeAdam.v1's lr_decay and
    # unfreeze_steps).
    E168 = E169 = E170 = E009
    E171 = ("set_layer_group: layer '{node}' wraps a {shim}, whose parameters reach the optimizer under the "
            "shim's id, not a layer's: they cannot be put in group {group} (only group 0, the default).")

    # E172-E179: integrated gradients for textcat / textcat_multilabel (analysis/explain.py).
    E172 = ("Token attributions for textcat need a spacy_lm.TextCatLSTM.v1, .v2 or .v3 model; this component's "
            "model is {model!r}.")
    E173 = ("Token attributions through the linear model {model!r}: only a spacy.TextCatBOW.v3-style model "
            "(extract_ngrams then SparseLinear, no_output_layer = true) can be split over tokens.")
    E174 = "Unknown label(s) {labels} for component '{component}'; its labels: {known}."
    E175 = "Text {i} is empty ({n} empty text(s) in all): a text with no tokens has nothing to attribute."

    # E180-E189: LM surprisal, comparison and generation views (analysis/lm_views.py, analysis/views/, `spacy lm explain`).
    E180 = ("Cannot compare {name_a!r} and {name_b!r} on text {i} ({text!r}): they tokenise it differently "
            "(token {j}: {token_a!r} vs {token_b!r}); compare models that share a tokenizer.")
    E181 = "names must be two different non-empty strings (one per model), got {names!r}."
    E182 = ("Nothing to compare: both sides are component '{name}' of the same pipeline; name another LM "
            "component (component_b, --compare-component) or pass a second pipeline (nlp_b, --compare).")
    E183 = ("Nothing to compare with: the pipeline's only language model is '{name}' (components: {names}); "
            "name another LM component (component_b, --compare-component) or pass a second pipeline "
            "(nlp_b, --compare).")
    E184 = ("Nothing to explain in this pipeline (components: {names}): --view auto needs a sentiment_scorer, "
            "a textcat / textcat_multilabel, a language-model component, or a qa component and --question.")
    E185 = ("{view} item {i} ({text!r}) is malformed: {problem}.")

    # E190-E209: bias probes and slice metrics (analysis/bias*.py, `spacy lm bias`).
    E190 = "Unknown bias category '{name}': the term files give {names}. Add a term file with --terms (its name is the category)."
    E191 = ("{path}, line {line}: {reason}. Term files have lines `group<TAB>term` (see "
            "spacy_lm/data/bias/README.md).")
    E192 = "{path}: {reason}. A term file needs at least two groups, each with at least one term."
    E193 = ("{path}, line {line}: template {template!r} must hold the slot {{term}} exactly once (it holds it "
            "{n} times).")
    E194 = "{path}: no templates (only comments or blank lines). Give one template with {{term}} per line."
    E195 = ("The pipeline has no component a bias probe can score (textcat, textcat_multilabel, sentiment_scorer, "
            "or a language model such as lstm_lm or ngram_lm); components: {names}.")
    E196 = ("Component '{name}' (a {factory}) cannot be probed: pick a textcat, textcat_multilabel, "
            "sentiment_scorer or language-model component with --component (components: {names}).")
    E197 = "Label(s) {unknown} are not labels of '{name}' (it has {labels})."
    E198 = ("--slice-by {spec!r}: not a category ({categories}) nor field:NAME (a DocBin doc's user_data key, or a "
            "csv/tsv column).")
    E199 = ("{path}: the dev set has no doc{what}. Slice metrics need labelled docs (or text, for a language "
            "model).")
    E200 = ("{path}, doc {i} ({text!r}): gold label(s) {unknown} are not labels of '{name}' ({labels}); map them "
            "with --label-map RAW=LABEL.")
    E201 = "--label-map {value!r}: expected RAW=LABEL pairs separated by commas, e.g. 0=NEG,1=POS."
    E202 = "field:{field} is not in {path}: {reason}."
    E203 = ("{path}, line {line}: {text!r}: a contrast names two different template sets, "
            "`#! contrast SET_A SET_B` (e.g. #! contrast positive negative).")
    E204 = "Template contrast {a} - {b}: the templates have no set named so (sets: {sets})."

    # Issue #30 (bad input, round two). One block per area; add codes inside your block, in order.
    # --- scoring: killed drivers, resume by content, reject rows (E210-E219) ---
    E210 = ("spacy lm score was stopped by {signal}: the shards finished so far are kept (listed in {path}). "
            "Run the same command again to resume; finished shards are skipped.")
    E211 = ("Input {source} is a HuggingFace dataset: reading it needs `datasets`, an optional extra of "
            "spacy-lm: pip install \"spacy-lm[datasets]\" (or give the data as JSONL or parquet files).")
    E212 = ("{source}: none of its {n} records has the field {field!r} ({reason}): a record without it is a "
            "reject row, but a shard where every record lacks it means the field is named otherwise. Nothing was "
            "written for this shard; set --text-field / --id-field (ScoreSettings text_field / id_field).")
    # --- saved weights: digests, truncated files, textcat settings, empty docs (E220-E229) ---
    E220 = ("The saved weights of '{name}' do not match the digest saved with them: its weights file "
            "({where}) is damaged. Copy or save the pipeline again from an intact source.")
    E221 = ("Cannot read the saved weights of '{name}' ({where}): the file is truncated or damaged "
            "({error}). Copy or save the pipeline again from an intact source.")
    # --- saved config vs weights, dropout, n-gram settings (E230-E239) ---
    E230 = ("'{name}': the file '{part}' in {path} is damaged (blake2b digest {found}... is not the "
            "{expected}... recorded in its cfg when it was saved): the directory is damaged; save the "
            "pipeline again from an intact copy (nlp.to_disk) or retrain it.")
    E231 = ("'{name}': dropout must be a number in [0, 1) (the share of units dropped while training; 1 "
            "drops them all), got {value!r}. Set [training] dropout (--training.dropout) or update(drop=...) "
            "in that range.")
    # --- sentiment attributions, explain (E240-E249) ---
    # --- CLI input, labelled readers, offline data (E250-E259) ---
    E250 = ("stdin is not UTF-8 text: line {line} has byte 0x{byte:02x} (offset {offset} of stdin). Give "
            "UTF-8 text, one item per line (convert it first, e.g. `iconv -f latin1 -t utf-8`).")
    E251 = ("HuggingFace dataset '{name}' cannot be downloaded: {reason}, and it is not in the local cache "
            "({cache}). Connect to the internet{unset}, or read a local copy instead (a local folder, "
            "or data_files with a builder such as \"text\").")
    # --- first contact: softmax clusters, progress logging (E260-E269) ---
    E260 = ("AdaptiveSoftmax cutoffs must be a non-empty list of strictly increasing integers >= 1 (the ids "
            "where the clusters of the frequency-sorted vocabulary start; those at or above the vocabulary "
            "size are dropped at initialization); got {cutoffs}.")
    # --- qa: the component and its model (E270-E279) ---
    E270 = ("doc._.questions must be a list of questions, each a string or a dict with a string 'text' "
            "(and an optional 'id'); got {type}.")
    E271 = "{name}: the {what} has no tokens to read; give a non-empty text."
    E272 = ("qa.answer: {n_questions} questions and {n_contexts} contexts; give one context for all the "
            "questions or one context per question.")
    E273 = ("{name}: get_loss needs the model's logits; train with update(), which computes the loss and its "
            "gradient.")
    E274 = ("{name}: the model has LM features (lm_features) but no lm_pipeline was given; set "
            "[initialize.components.{name}] lm_pipeline to a pipeline with a trained lstm_lm, or set "
            "[components.{name}.model.lm_features] enabled = false.")
    E275 = ("{name}: the lstm_lm in '{path}' does not fit [components.{name}.model.lm_features] (width, depth, "
            "embed_size and cell must be the LM's): {error}")
    # --- qa: SQuAD corpus and scorer (E280-E284) ---
    E280 = ("spacy_lm.SquadCorpus.v1 needs exactly one source: path (a SQuAD JSON file, .gz allowed) or "
            "dataset (a HuggingFace dataset such as \"rajpurkar/squad\"); got {given}. Is paths.train / "
            "paths.dev set?")
    E281 = ("Cannot read the SQuAD file {path}: it is not JSON ({reason}); expected the official SQuAD v1.1 "
            "JSON (as train-v1.1.json or XQuAD's xquad.en.json), optionally .gz.")
    E282 = ("{where} is not in SQuAD's layout: {reason}. Expected {{\"data\": [{{\"title\", \"paragraphs\": "
            "[{{\"context\", \"qas\": [{{\"id\", \"question\", \"answers\": [{{\"text\", \"answer_start\"}}]}}]}}]}}]}} "
            "in a file, or the columns id, title, context, question, answers {{text, answer_start}} in a dataset.")
    E283 = ("{where}, question {qid}: answer {text!r} does not match the context at answer_start={start} (the "
            "context there reads {found!r}); the offsets must be 0-based character offsets into the context.")
    E284 = ("{where}: question id {qid!r} occurs twice (first in {first}); SQuAD question ids must be unique, "
            "as predictions and the scorer match answers by id.")
    # --- qa: ask CLI and explain view (E285-E289) ---
    E285 = ("{what}: `spacy lm ask` and the qa view of `spacy lm explain` need a pipeline with a qa component "
            "(components: {names}); train one with configs/qa.cfg, or name it with --component.")
    E286 = ("The context ({source}) is empty: give the text the answer is taken from, with --context TEXT or "
            "--context FILE (a UTF-8 file holding it).")
    E287 = ("{source} is not UTF-8 text: byte 0x{byte:02x} at offset {offset}. Give UTF-8 text (convert it "
            "first, e.g. `iconv -f latin1 -t utf-8`).")
    E288 = ("The question is empty ({question!r}): ask it in words, e.g. spacy lm ask MODEL \"Who wrote it?\" "
            "--context FILE.")
    E289 = ("The qa view needs a question: spacy lm explain MODEL TEXT --question \"Who ...?\" (TEXT: the "
            "context the answer is taken from, or a UTF-8 file holding it; --question can be repeated).")
    E290 = ("A {chunk} stream chunk was given to a {model} LM: a backward lstm_lm (direction = \"backward\") "
            "trains on chunks of a stream reader with direction = \"backward\", a forward one on forward "
            "chunks. Set the same direction on [components.lstm_lm] and the corpus reader.")
    E291 = ("{setting} must be \"forward\" or \"backward\" (the reading direction of the LM), got {value!r}.")
    E292 = ("Text generation reads left to right: lstm_lm '{name}' is a backward LM (direction = "
            "\"backward\"); generate with a forward LM, or use the backward one for scoring and features.")
    E293 = ("spacy_lm.BiLMListener.v1 reads two LMs: forward and backward both name '{name}'. Name the forward "
            "lstm_lm and the backward one (direction = \"backward\"), e.g. forward = \"lstm_lm\", backward = "
            "\"lstm_lm_backward\".")
    # --- corpora: spacy_lm.MixedTextStreamCorpus.v1 (E300-E309) ---
    E300 = ("Source {name!r} of spacy_lm.MixedTextStreamCorpus.v1: {problem}. A source's settings are path "
            "(required), format, column, tokenizer, strip_html, take, skip, repeat, lines_per_doc.")
    E301 = ("Source {name!r} of spacy_lm.MixedTextStreamCorpus.v1: {problem}; set format = one of \"lines\" "
            "(pre-tokenised text), \"csv\", \"jsonl\" or \"squad\" in [corpora.*.sources.{name}].")
    E302 = "Source {name!r} of spacy_lm.MixedTextStreamCorpus.v1 cannot be read: {error}"
    E303 = ("Source {name!r} of spacy_lm.MixedTextStreamCorpus.v1: {where} has no {kind} {column!r} (it has "
            "{found}); set column = one of them in [corpora.*.sources.{name}].")
    E304 = ("Source {name!r} of spacy_lm.MixedTextStreamCorpus.v1 gives no tokens ({n_docs} docs of {path} "
            "after skip = {skip}, take = {take}): check the file, its format and column, and take/skip.")
    E305 = "{setting} must be {requirement}, got {value!r}."
    E306 = ("spacy_lm.MixedTextStreamCorpus.v1 needs at least one source, got {value!r}: give each a table "
            "such as [corpora.train.sources.wiki] path = \"train.txt.gz\" (a source whose path is null is left out).")
    E307 = ("Source {name!r} of spacy_lm.MixedTextStreamCorpus.v1: {path} line {line} is not a JSON object "
            "({reason}); expected one JSON object per line (JSON Lines).")
    # --- vocabulary growth: spacy_lm.grow_lm_vocabulary.v1, grow_vocabulary (E310-E314) ---
    E310 = ("spacy_lm.grow_lm_vocabulary.v1 ([initialize.after_init]): the pipeline has no component "
            "{name!r} (components: {names}); set `component` to the lstm_lm to grow.")
    E311 = ("spacy_lm.grow_lm_vocabulary.v1 ([initialize.after_init]): component {name!r} ({kind}) is not an "
            "lstm_lm: it needs an LM vocabulary (lm_vocab) and a model with grow_vocabulary "
            "(spacy_lm.LSTMLanguageModel.v1/.v2).")
    E312 = ("spacy_lm.grow_lm_vocabulary.v1 ([initialize.after_init]): lstm_lm {name!r} has no vocabulary yet; "
            "grow a trained LM: source it ([components.{name}] source = ...) or initialize it first.")
    E313 = ("spacy_lm.grow_lm_vocabulary.v1 ([initialize.after_init]): the corpus {corpus} gave no tokens to "
            "count; check its path ([paths.train]) and reader.")
    E314 = ("grow_vocabulary({new_size}) on a language model with nV = {nV}: {reason}.")
    # --- qa: backward LM features, spacy_lm.LMFeatures.v2 (E315-E319) ---
    E315 = ("{name}: the model reads backward LM features ([components.{name}.model.lm_features] backward = "
            "true) but no lm_backward_pipeline was given; set [initialize.components.{name}] "
            "lm_backward_pipeline to a pipeline with a trained backward lstm_lm, or set backward = false.")
    E316 = ("{name}: [initialize.components.{name}] {setting} = '{path}' has no {expected} lstm_lm (its LMs: "
            "{found}); give a pipeline whose lstm_lm has direction = \"{expected}\".")
    E317 = ("{name}: the forward LM ('{path}') and the backward LM ('{backward_path}') have different "
            "vocabularies ({size} and {backward_size} entries, attr {attr} and {backward_attr}); the LM features "
            "read one: pre-train both on the same corpus with the same attr, min_freq and max_size.")
    E318 = ("{name}: [initialize.components.{name}] lm_backward_pipeline is set but the model reads no backward "
            "LM features; set [components.{name}.model.lm_features] @architectures = \"spacy_lm.LMFeatures.v2\" "
            "with enabled = true and backward = true, or leave lm_backward_pipeline unset.")
    # --- scoring: KenLM as the n-gram query backend (E335-E336) ---
    E335 = ("ngram_backend 'kenlm' needs the kenlm package, an optional extra: pip install \"spacy-lm[kenlm]\" "
            "(or use the default backend, numpy).")
    E336 = ("The kenlm backend scores whole texts (each ending with <eos>); got a doc whose ids end with "
            "{last} (a stream chunk?): use the numpy backend.")
    # --- scoring: --data-files for hf: inputs (E320-E324) ---
    E320 = ("data_files (--data-files): {path} does not exist; give the local files a datasets builder "
            "(hf:json, hf:parquet, hf:csv, hf:text) reads, or a glob such as data/*.jsonl.")
    E321 = ("data_files (--data-files): the glob {pattern!r} matches no file; check its folder and pattern "
            "(relative paths are read from the current folder {cwd}).")
