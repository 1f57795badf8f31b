//! The panel's view of the assistant's tools: the timers and facts the running session's
//! toolbox holds, and the confirmation it is waiting for. The panel's buttons (cancel a timer,
//! add, edit and delete a fact, confirm or keep) go through the same toolbox as spoken turns,
//! so the same checks apply; the toolbox announces every change on the event stream.

use std::sync::Arc;

use super::protocol::{ConfirmView, ToolsView};
use crate::tools::toolbox::{Toolbox, ToolboxError};
use crate::tools::{ToolCall, ToolName};

/// Why a tool command could not be carried out, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum ToolPanelError {
    #[error("tools are off (set [tools] enabled = true in the config and reload the models)")]
    Off,
    #[error(transparent)]
    Toolbox(#[from] ToolboxError),
    /// The toolbox refused: its short spoken reason.
    #[error("{0}")]
    Refused(String),
}

/// The panel's side of the toolbox; the state (timers, facts, a pending confirmation) is the
/// toolbox's own.
#[derive(Default)]
pub(super) struct ToolPanel;

impl ToolPanel {
    /// Everything the panel shows of `toolbox` (`None`: tools are off or no session runs).
    pub(super) fn view(&self, toolbox: Option<&Toolbox>, why_none: &str) -> ToolsView {
        let Some(toolbox) = toolbox else {
            return ToolsView {
                available: false,
                reason: why_none.to_owned(),
                timers: Vec::new(),
                facts: Vec::new(),
                confirm: None,
            };
        };
        ToolsView {
            available: true,
            reason: String::new(),
            timers: toolbox.timers(),
            facts: toolbox.facts(),
            confirm: toolbox.confirmation().map(|p| ConfirmView {
                action: p.action,
                prompt: p.prompt,
                expires_unix_ms: p.expires_unix_ms,
            }),
        }
    }

    /// Stores a fact as "remember that ..." would: the `remember` tool with its checks.
    pub(super) fn add_fact(&self, toolbox: &Toolbox, text: &str) -> Result<(), ToolPanelError> {
        run(toolbox, ToolName::Remember, serde_json::json!({ "fact": text }))
    }

    /// Asks to forget every fact as "forget everything" would: the `forget_all` tool, which
    /// only asks for the confirmation ([`ToolPanel::confirm`] or a spoken "yes" carries it out).
    pub(super) fn ask_forget_all(&self, toolbox: &Toolbox) -> Result<(), ToolPanelError> {
        run(toolbox, ToolName::ForgetAll, serde_json::json!({}))
    }

    /// Carries out the confirmed `action` (the banner's Confirm button).
    pub(super) fn confirm(&self, toolbox: &Toolbox, action: &str) -> Result<(), ToolPanelError> {
        let result = toolbox.confirm(action);
        if result.ok { Ok(()) } else { Err(ToolPanelError::Refused(result.spoken)) }
    }

    /// Drops the pending confirmation (the banner's Keep button).
    pub(super) fn decline(&self, toolbox: &Toolbox) {
        toolbox.decline();
    }
}

/// Runs `tool` as a call from the panel: the toolbox's checks, its refusal in words.
fn run(toolbox: &Toolbox, tool: ToolName, arguments: serde_json::Value) -> Result<(), ToolPanelError> {
    let call = ToolCall {
        id: format!("panel-{}", tool.as_str()),
        name: tool.as_str().into(),
        arguments: arguments.to_string(),
    };
    let result = toolbox.run(&call, &[tool]);
    if result.ok { Ok(()) } else { Err(ToolPanelError::Refused(result.spoken)) }
}

/// The running session's toolbox, or why there is none.
pub(super) fn require(toolbox: Option<Arc<Toolbox>>) -> Result<Arc<Toolbox>, ToolPanelError> {
    toolbox.ok_or(ToolPanelError::Off)
}

#[cfg(test)]
mod tests {
    use super::super::{Command, Controller, ControllerOptions, Reply};

    #[test]
    fn without_a_session_tool_commands_say_why_in_words_and_status_shows_no_tools() {
        let controller = Controller::start(ControllerOptions::default());
        for command in [
            Command::AddFact { text: "my bike is blue".into() },
            Command::EditFact { id: 1, text: "x".into() },
            Command::DeleteFact { id: 1 },
            Command::CancelTimer { id: 1 },
            Command::ForgetAll,
            Command::Confirm { action: "forget_all".into() },
            Command::Decline,
        ] {
            let e = controller.handle(command).expect_err("no session");
            assert!(e.to_string().contains("not loaded"), "{e}");
        }
        let Ok(Reply::Tools { tools }) = controller.handle(Command::GetTools) else { panic!("a tools reply") };
        assert!(!tools.available && tools.reason.contains("not loaded"), "{tools:?}");
        assert!(tools.timers.is_empty() && tools.facts.is_empty() && tools.confirm.is_none());
        assert_eq!(controller.status().tools, tools);
    }

    #[test]
    fn tool_commands_read_as_front_ends_write_them() {
        let read = |text: &str| serde_json::from_str::<Command>(text).expect(text);
        assert_eq!(read(r#"{"cmd":"cancel_timer","id":4}"#), Command::CancelTimer { id: 4 });
        assert_eq!(read(r#"{"cmd":"add_fact","text":"t"}"#), Command::AddFact { text: "t".into() });
        assert_eq!(read(r#"{"cmd":"edit_fact","id":2,"text":"u"}"#), Command::EditFact { id: 2, text: "u".into() });
        assert_eq!(read(r#"{"cmd":"delete_fact","id":2}"#), Command::DeleteFact { id: 2 });
        assert_eq!(
            read(r#"{"cmd":"confirm","action":"forget_all"}"#),
            Command::Confirm { action: "forget_all".into() }
        );
        assert_eq!(read(r#"{"cmd":"decline"}"#), Command::Decline);
        assert_eq!(read(r#"{"cmd":"forget_all"}"#), Command::ForgetAll);
        assert_eq!(read(r#"{"cmd":"get_tools"}"#), Command::GetTools);
    }

    #[test]
    fn no_toolbox_is_tools_off() {
        let Err(e) = super::require(None) else { panic!("off") };
        assert!(e.to_string().starts_with("tools are off"), "{e}");
    }
}
