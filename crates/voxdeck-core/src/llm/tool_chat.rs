//! A conversation with tools, as the local model's chat template is given it: the tool section
//! in the system message, the assistant's calls and the tools' results written in the model
//! family's own style ([`CallStyle`]), as plain (role, content) pairs that llama.cpp's built-in
//! templates format.

use super::{ChatMessage, Role};
use crate::tools::ToolOffer;
use crate::tools::call_format::CallStyle;

/// `messages` as (role, content) pairs for the template. With `offer` (and at least one tool),
/// the system message carries the tool section (one is added if there is none); calls and
/// results are rendered in `style` whether or not tools are offered now.
pub(super) fn template_messages(
    style: CallStyle,
    messages: &[ChatMessage],
    offer: Option<&ToolOffer>,
) -> Vec<(String, String)> {
    let tools = offer.map(|o| o.tools.as_slice()).filter(|t| !t.is_empty());
    let mut out: Vec<(String, String)> = Vec::with_capacity(messages.len() + 1);
    let mut section_given = false;
    // Qwen's template gathers consecutive results into one user turn.
    let mut previous_was_result = false;
    for m in messages {
        let is_result = m.role == Role::Tool;
        match m.role {
            Role::System => {
                let content = match tools {
                    Some(tools) if !section_given => {
                        section_given = true;
                        style.system_prompt(&m.content, tools)
                    }
                    _ => m.content.clone(),
                };
                out.push(("system".into(), content));
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                let mut parts: Vec<String> = Vec::new();
                if !m.content.trim().is_empty() {
                    parts.push(m.content.clone());
                }
                parts.extend(m.tool_calls.iter().map(|c| style.call_text(&c.name, &c.arguments)));
                out.push(("assistant".into(), parts.join("\n")));
            }
            Role::Tool => {
                let (role, content) = style.result_message(&m.content);
                match out.last_mut() {
                    Some((_, last)) if style == CallStyle::Qwen && previous_was_result => {
                        last.push('\n');
                        last.push_str(&content);
                    }
                    _ => out.push((role.into(), content)),
                }
            }
            Role::User | Role::Assistant => out.push((m.role.as_str().into(), m.content.clone())),
        }
        previous_was_result = is_result;
    }
    if let Some(tools) = tools
        && !section_given
    {
        out.insert(0, ("system".into(), style.system_prompt("", tools)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{ToolCall, ToolName};

    fn offer() -> ToolOffer {
        ToolOffer { tools: vec![ToolName::GetTime], require_call: false }
    }

    fn follow_up() -> Vec<ChatMessage> {
        let call = ToolCall { id: "local-1".into(), name: "get_time".into(), arguments: r#"{"what": "time"}"#.into() };
        vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("What time is it?"),
            ChatMessage::tool_calls(vec![call]),
            ChatMessage::tool_result("local-1", "14:05"),
        ]
    }

    #[test]
    fn llama_results_are_ipython_turns() {
        let out = template_messages(CallStyle::Llama3, &follow_up(), Some(&offer()));
        assert!(out[0].1.starts_with("Environment: ipython\n\n") && out[0].1.ends_with("Be brief."));
        assert_eq!(out[2], ("assistant".into(), r#"{"name": "get_time", "parameters": {"what": "time"}}"#.into()));
        assert_eq!(out[3], ("ipython".into(), "14:05".into()));
    }

    #[test]
    fn qwen_results_are_one_user_turn_in_tool_response_tags() {
        let mut messages = follow_up();
        messages.push(ChatMessage::tool_result("local-2", "done"));
        let out = template_messages(CallStyle::Qwen, &messages, Some(&offer()));
        assert_eq!(
            out[2],
            (
                "assistant".into(),
                "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"what\": \"time\"}}\n</tool_call>".into()
            )
        );
        assert_eq!(
            out[3],
            ("user".into(), "<tool_response>\n14:05\n</tool_response>\n<tool_response>\ndone\n</tool_response>".into())
        );
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn generic_results_are_user_messages_and_a_system_message_is_added() {
        let out = template_messages(CallStyle::Generic, &follow_up()[1..], Some(&offer()));
        assert_eq!(out[0].0, "system");
        assert!(out[0].1.contains("- get_time("));
        assert_eq!(out[3], ("user".into(), "Tool result: 14:05".into()));
        // Without an offer the system prompt is the caller's, calls still render.
        let plain = template_messages(CallStyle::Generic, &follow_up(), None);
        assert_eq!(plain[0], ("system".into(), "Be brief.".into()));
        assert_eq!(plain[2].1, r#"{"name": "get_time", "parameters": {"what": "time"}}"#);
    }
}
