//! Text to speech: Piper voices on ONNX Runtime, espeak-ng as the fallback.
