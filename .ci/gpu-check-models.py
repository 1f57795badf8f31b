#!/usr/bin/env python3
"""Models small enough to travel to a GPU machine with .ci/gpu-check.sh (64 MiB in all).

  gpu-check-models.py llm OUT.gguf [LAYERS]
      A Llama-architecture GGUF with random Q4_0 weights (width 768, 3.5 MB per layer; 4
      layers by default, 14 MB) and a byte-level SentencePiece vocabulary. It says nothing sensible, but llama.cpp runs it like
      any Llama: the same kernels, offload and buffers, so layers, VRAM and the speed-up of
      offloading are real. The test set's smallest model (SmolLM2 135M, 98 MB) does not fit.

  gpu-check-models.py whisper IN.bin OUT.bin [q4_0|q5_0|q5_1|q8_0]   (q4_0: tiny.en in 25 MB)
      Quantizes a whisper.cpp ggml model the way whisper.cpp's `quantize` example does (every
      2-D tensor but the positional embeddings and conv biases; ftype tagged with ggml's
      quantization version 2), with gguf's reference quantizers. whisper-rs ships whisper.cpp
      without its examples, so the tool itself is not at hand.

Needs numpy and gguf (PyPI).
"""

import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as Q, GGUFWriter
from gguf.quants import quantize

GGML_QNT_VERSION = 2
GGML_QNT_VERSION_FACTOR = 1000
# ggml_type of each target, and the ggml_ftype written in the header.
TARGETS = {"q4_0": (Q.Q4_0, 2), "q5_0": (Q.Q5_0, 8), "q5_1": (Q.Q5_1, 9), "q8_0": (Q.Q8_0, 7)}
SKIP = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding"}


def random_llm(path, n_layer=4, n_embd=768, n_ff=2048, n_head=12, n_head_kv=4):
    rng = np.random.default_rng(20261206)
    head_dim = n_embd // n_head
    # Control tokens, the 256 bytes, then ASCII words so text tokenizes into more than bytes.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    words = "the a an of to in is it you that he was for on are with as I his they be at one have this from".split()
    for w in dict.fromkeys(words + [chr(c) for c in range(ord("a"), ord("z") + 1)]):
        tokens.append("\u2581" + w)
        types.append(1)
    scores = [0.0] * 3 + [-1000.0] * 256 + [-float(i) for i in range(len(tokens) - 259)]
    n_vocab = len(tokens)

    w = GGUFWriter(path, "llama")
    w.add_name("voxdeck gpu-check (random weights)")
    w.add_context_length(8192)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(2)  # LLAMA_FTYPE_MOSTLY_Q4_0
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_chat_template(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )

    def matrix(name, rows, cols):
        data = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float32)
        w.add_tensor(name, quantize(data, Q.Q4_0), raw_dtype=Q.Q4_0)

    def norm(name):
        w.add_tensor(name, np.ones(n_embd, dtype=np.float32))

    matrix("token_embd.weight", n_vocab, n_embd)
    for i in range(n_layer):
        norm(f"blk.{i}.attn_norm.weight")
        matrix(f"blk.{i}.attn_q.weight", n_embd, n_embd)
        matrix(f"blk.{i}.attn_k.weight", n_head_kv * head_dim, n_embd)
        matrix(f"blk.{i}.attn_v.weight", n_head_kv * head_dim, n_embd)
        matrix(f"blk.{i}.attn_output.weight", n_embd, n_embd)
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        matrix(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        matrix(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    norm("output_norm.weight")
    matrix("output.weight", n_vocab, n_embd)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise SystemExit(f"truncated model: wanted {n} bytes, got {len(data)}")
    return data


def quantize_whisper(src, dst, target):
    qtype, ftype = TARGETS[target]
    block = 32
    with open(src, "rb") as f, open(dst, "wb") as out:
        head = read_exact(f, 4 * 12)
        fields = list(struct.unpack("<I11i", head))
        if fields[0] != 0x67676D6C:
            raise SystemExit(f"{src} is not a whisper.cpp ggml model")
        if fields[11] % GGML_QNT_VERSION_FACTOR not in (0, 1):
            raise SystemExit(f"{src} is already quantized (ftype {fields[11]})")
        fields[11] = GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ftype
        out.write(struct.pack("<I11i", *fields))
        # Mel filters and vocabulary, unchanged.
        n_mel, n_fft = struct.unpack("<ii", read_exact(f, 8))
        out.write(struct.pack("<ii", n_mel, n_fft) + read_exact(f, 4 * n_mel * n_fft))
        (n_vocab,) = struct.unpack("<i", read_exact(f, 4))
        out.write(struct.pack("<i", n_vocab))
        for _ in range(n_vocab):
            (n,) = struct.unpack("<i", read_exact(f, 4))
            out.write(struct.pack("<i", n) + read_exact(f, n))
        quantized = 0
        while True:
            head = f.read(12)
            if not head:
                break
            n_dims, name_len, ttype = struct.unpack("<iii", head)
            ne = list(struct.unpack(f"<{n_dims}i", read_exact(f, 4 * n_dims)))
            name = read_exact(f, name_len)
            count = int(np.prod(ne))
            raw = read_exact(f, count * (4 if ttype == 0 else 2))
            if n_dims == 2 and name.decode() not in SKIP and ne[0] % block == 0 and ttype in (0, 1):
                values = np.frombuffer(raw, dtype=np.float32 if ttype == 0 else np.float16).astype(np.float32)
                raw = quantize(values.reshape(ne[1], ne[0]), qtype).tobytes()
                ttype = int(qtype)
                quantized += 1
            out.write(struct.pack(f"<iii{n_dims}i", n_dims, name_len, ttype, *ne) + name + raw)
    print(f"{dst}: {quantized} tensors quantized to {target}")


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "llm":
        random_llm(sys.argv[2], *(int(a) for a in sys.argv[3:]))
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "whisper":
        quantize_whisper(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else "q4_0")
    else:
        raise SystemExit(__doc__)
