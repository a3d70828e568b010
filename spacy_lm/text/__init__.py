"""Text in and out: the tokenizer, the LM vocabulary, detokenisation and the sentiment lexicon."""
