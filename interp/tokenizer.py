"""Byte-level BPE tokenizer trained with `tokenizers`, saved as a HF fast tokenizer.

The result loads offline with `AutoTokenizer.from_pretrained(ckpt_dir)`. One special token,
`<|endoftext|>`, serves as BOS/EOS/document separator (GPT-2 convention). Spaces are kept as the
byte-level `Ġ` symbol, so " his" and "his" are different tokens, as in GPT-2.
"""

from __future__ import annotations

from collections.abc import Iterable

from interp.errors import UserError

EOT = "<|endoftext|>"


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2):
    """Train a byte-level BPE on `texts`; return a `transformers.PreTrainedTokenizerFast`.

    Raises UserError when the corpus cannot support `vocab_size` merges (the trainer would silently
    stop short, and the model's embedding would be sized for tokens that never exist).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    got = tok.get_vocab_size()
    if got < vocab_size:
        raise UserError(
            f"vocab size {vocab_size} is larger than this corpus supports (BPE found only {got} tokens "
            f"with min frequency {min_frequency}); use --vocab-size {got} or less, or a larger corpus"
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT, pad_token=EOT,
        model_max_length=1_000_000, clean_up_tokenization_spaces=False,
    )


# ----------------------------------------------------------------------------- character level
UNK = "<unk>"


def train_char(texts: Iterable[str]):
    """nanoGPT's shakespeare-char tokenizer as a real HF fast tokenizer: one token per character.

    Vocabulary: the sorted distinct characters of `texts` (the train split) get ids 0..n-1 — the same ids
    as nanoGPT's `stoi` on that text — then `<|endoftext|>` (BOS/EOS/pad, the document separator) = n and
    `<unk>` = n+1 for characters the train split never had. Encoding then decoding returns the text
    exactly when every character is in the vocabulary. Saved with `save_pretrained`; loads offline with
    `AutoTokenizer.from_pretrained(dir)`.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set().union(*(set(t) for t in texts)))
    if not chars:
        raise UserError("cannot build a character vocabulary from an empty train split; add text")
    vocab = {ch: i for i, ch in enumerate(chars)}
    vocab[EOT], vocab[UNK] = len(chars), len(chars) + 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every char is a word
    tok.decoder = decoders.Fuse()  # join tokens with nothing between them
    tok.add_special_tokens([EOT, UNK])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=UNK, pad_token=EOT,
        model_max_length=1_000_000, clean_up_tokenization_spaces=False,
    )


def train_word(texts: Iterable[str]):
    """One token per whitespace-separated word: the train split's distinct words (sorted) get ids 0..n-1,
    then `<|endoftext|>` = n and `<unk>` = n+1 (words the train split never had). Decoding joins words with
    one space (line breaks are not kept). Meant for the synthetic `--corpus induction`, where every word and
    "." is a token the model has seen."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted(set().union(*(set(t.split()) for t in texts)))
    if not words:
        raise UserError("cannot build a word vocabulary from an empty train split; add text")
    vocab = {w: i for i, w in enumerate(words)}
    vocab[EOT], vocab[UNK] = len(words), len(words) + 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="\0", cleanup=False)  # joins tokens with spaces
    tok.add_special_tokens([EOT, UNK])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=UNK, pad_token=EOT,
        model_max_length=1_000_000, clean_up_tokenization_spaces=False,
    )


TOKENIZERS = {"bpe": "byte-level BPE (tokenizers)", "char": "character level (tokenizers WordLevel, one token per char)",
              "word": "word level (tokenizers WordLevel, one token per whitespace-separated word)"}
