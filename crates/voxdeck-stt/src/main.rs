//! `voxdeck-stt`: voxdeck's Whisper worker.
//!
//! A process of its own so that whisper.cpp's ggml never shares an address space with
//! llama.cpp's. It loads one ggml model, then serves transcription requests on stdin/stdout with
//! the framing of the `voxdeck_stt` library until stdin closes. Logs go to stderr only
//! (`VOXDECK_STT_LOG=error|warn|info|debug`, default `warn`); stdout carries the protocol and
//! nothing else: fd 1 is pointed at stderr at start-up, so stray C prints cannot corrupt it.
//!
//! Decoding is bounded: greedy (or beam) at temperature 0 with no temperature fallback, a token
//! cap per 30 s pass, flash attention off (1.5x slower on CPU). whisper.cpp is built without
//! OpenMP (whisper-rs-sys's `openmp` feature is off), whose spinning threads stall decode steps
//! on a loaded machine.
//!
//! Here: the arguments and the request loop; [`model`] loads and transcribes, [`segments`] keeps
//! what is speech, [`timings`] splits the time, [`logging`] is the stderr log, [`lifeline`] ends
//! the worker (or its decode) once the engine that started it is gone.

mod lifeline;
mod logging;
mod model;
mod segments;
mod timings;

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::process::ExitCode;

use voxdeck_stt::{ErrorKind, ErrorResponse, PROTOCOL_VERSION, Request, Response, WorkerInfo};

use logging::{LEVEL_ERROR, LEVEL_INFO, LEVEL_WARN, init_logging, log};
use model::{Model, validate_options};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("--version" | "-V") => {
            println!(
                "voxdeck-stt {} (whisper.cpp {}, protocol {PROTOCOL_VERSION})",
                env!("CARGO_PKG_VERSION"),
                whisper_rs::WHISPER_CPP_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!(
                "voxdeck-stt: voxdeck's Whisper worker. It is started by voxdeck and speaks a binary \
                 protocol on stdin/stdout (see the voxdeck_stt crate); logs go to stderr \
                 (VOXDECK_STT_LOG=error|warn|info|debug)."
            );
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("voxdeck-stt: unknown argument `{other}` (try --help)");
            return ExitCode::from(2);
        }
    }
    if io::stdin().is_terminal() {
        eprintln!("voxdeck-stt: stdin is a terminal; this worker is started by voxdeck (try --help)");
        return ExitCode::from(2);
    }
    init_logging();
    lifeline::watch();
    let out = match protocol_stdout() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("voxdeck-stt: cannot set up stdout: {e}");
            return ExitCode::from(1);
        }
    };
    log!(
        LEVEL_INFO,
        "ready (pid {}, whisper.cpp {})",
        std::process::id(),
        whisper_rs::WHISPER_CPP_VERSION
    );
    serve(
        BufReader::with_capacity(256 * 1024, io::stdin().lock()),
        BufWriter::new(out),
    )
}

/// A private handle on the original stdout for the protocol; fd 1 itself then points at stderr.
fn protocol_stdout() -> io::Result<File> {
    // SAFETY: plain fd syscalls on the process's own standard descriptors; `dup` returns a fresh
    // descriptor that the File takes ownership of.
    unsafe {
        let fd = libc::dup(libc::STDOUT_FILENO);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            let e = io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        use std::os::fd::FromRawFd;
        Ok(File::from_raw_fd(fd))
    }
}

fn serve(mut input: impl Read, mut out: impl Write) -> ExitCode {
    let mut model: Option<Model> = None;
    loop {
        let (request, pcm) = match voxdeck_stt::read_request(&mut input) {
            Ok(Some(request)) => request,
            Ok(None) => {
                log!(LEVEL_INFO, "stdin closed; exiting");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                // Out of step with the engine: say why, then stop.
                log!(LEVEL_ERROR, "{e}");
                let _ = send(
                    &mut out,
                    &Response::Error(ErrorResponse {
                        kind: ErrorKind::Protocol,
                        message: e.to_string(),
                        id: None,
                    }),
                );
                return ExitCode::from(2);
            }
        };
        let response = match request {
            Request::Ping => Response::Pong(WorkerInfo {
                protocol: PROTOCOL_VERSION,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                whisper_version: whisper_rs::WHISPER_CPP_VERSION.to_owned(),
                system_info: whisper_rs::print_system_info().trim().to_owned(),
                pid: std::process::id(),
                model: model.as_ref().map(|m| m.info.clone()),
            }),
            Request::Load(load) => {
                model = None; // free the old model before loading a new one
                match validate_options(&load.options) {
                    Err(message) => error(ErrorKind::BadRequest, message, None),
                    Ok(options) => match Model::load(&load.model, options) {
                        Ok((loaded, response)) => {
                            model = Some(loaded);
                            Response::Loaded(response)
                        }
                        Err(message) => error(ErrorKind::ModelLoad, message, None),
                    },
                }
            }
            Request::Transcribe(header) => match model.as_mut() {
                None => error(
                    ErrorKind::NotLoaded,
                    "no model is loaded (send `load` first)".into(),
                    Some(header.id),
                ),
                Some(m) => match m.transcribe(&header, &pcm) {
                    Ok(transcript) => Response::Transcript(transcript),
                    Err((kind, message)) => error(kind, message, Some(header.id)),
                },
            },
            Request::Shutdown => {
                log!(LEVEL_INFO, "shutdown requested");
                return ExitCode::SUCCESS;
            }
        };
        drop(pcm);
        if let Err(e) = send(&mut out, &response) {
            // The engine went away (or killed the pipe): nothing left to serve.
            log!(LEVEL_INFO, "cannot answer: {e}; exiting");
            return ExitCode::from(1);
        }
    }
}

fn send(out: &mut impl Write, response: &Response) -> Result<(), voxdeck_stt::ProtocolError> {
    voxdeck_stt::write_response(out, response)?;
    out.flush()?;
    Ok(())
}

fn error(kind: ErrorKind, message: String, id: Option<u64>) -> Response {
    log!(LEVEL_WARN, "{kind}: {message}");
    Response::Error(ErrorResponse { kind, message, id })
}
