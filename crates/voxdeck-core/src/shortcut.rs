//! The global push-to-talk shortcut's syntax (`ui.global_shortcut`): the accelerator grammar of
//! the desktop app's shortcut plugin (`global-hotkey`'s parser), checked here so the config
//! loader and the panel refuse "Banana+Q" in words before the app tries to register it. The
//! app's test `core_shortcut_rule_agrees_with_the_plugin` keeps the two in step.

/// Modifier names, upper case.
const MODIFIERS: &[&str] = &[
    "OPTION",
    "ALT",
    "CONTROL",
    "CTRL",
    "COMMAND",
    "CMD",
    "SUPER",
    "SHIFT",
    "COMMANDORCONTROL",
    "COMMANDORCTRL",
    "CMDORCTRL",
    "CMDORCONTROL",
];

/// Key names with a spelling of their own, upper case (letters, digits and F1-F24 are
/// matched by [`is_key`] itself).
const KEYS: &[&str] = &[
    "BACKQUOTE",
    "`",
    "BACKSLASH",
    "\\",
    "BRACKETLEFT",
    "[",
    "BRACKETRIGHT",
    "]",
    "PAUSE",
    "PAUSEBREAK",
    "COMMA",
    ",",
    "EQUAL",
    "=",
    "MINUS",
    "-",
    "PERIOD",
    ".",
    "QUOTE",
    "'",
    "SEMICOLON",
    ";",
    "SLASH",
    "/",
    "BACKSPACE",
    "CAPSLOCK",
    "ENTER",
    "SPACE",
    "TAB",
    "DELETE",
    "END",
    "HOME",
    "INSERT",
    "PAGEDOWN",
    "PAGEUP",
    "PRINTSCREEN",
    "SCROLLLOCK",
    "ARROWDOWN",
    "DOWN",
    "ARROWLEFT",
    "LEFT",
    "ARROWRIGHT",
    "RIGHT",
    "ARROWUP",
    "UP",
    "NUMLOCK",
    "NUMPADADD",
    "NUMADD",
    "NUMPADPLUS",
    "NUMPLUS",
    "NUMPADDECIMAL",
    "NUMDECIMAL",
    "NUMPADDIVIDE",
    "NUMDIVIDE",
    "NUMPADENTER",
    "NUMENTER",
    "NUMPADEQUAL",
    "NUMEQUAL",
    "NUMPADMULTIPLY",
    "NUMMULTIPLY",
    "NUMPADSUBTRACT",
    "NUMSUBTRACT",
    "ESCAPE",
    "ESC",
    "AUDIOVOLUMEDOWN",
    "VOLUMEDOWN",
    "AUDIOVOLUMEUP",
    "VOLUMEUP",
    "AUDIOVOLUMEMUTE",
    "VOLUMEMUTE",
    "MEDIAPLAY",
    "MEDIAPAUSE",
    "MEDIAPLAYPAUSE",
    "MEDIASTOP",
    "MEDIATRACKNEXT",
    "MEDIATRACKPREV",
    "MEDIATRACKPREVIOUS",
];

/// Whether `upper` (an upper-case token) names a key.
fn is_key(upper: &str) -> bool {
    let function_key = upper
        .strip_prefix('F')
        .is_some_and(|n| !n.starts_with('0') && n.parse::<u32>().is_ok_and(|n| (1..=24).contains(&n)));
    let single = |prefix: &str, class: fn(&char) -> bool| {
        let rest = upper.strip_prefix(prefix).unwrap_or("");
        rest.chars().count() == 1 && rest.chars().all(|c| class(&c))
    };
    KEYS.contains(&upper)
        // A..Z, KeyA..KeyZ
        || (upper.len() == 1 && upper.chars().all(|c| c.is_ascii_uppercase()))
        || single("KEY", char::is_ascii_uppercase)
        // 0..9, Digit0..Digit9, Numpad0..9, Num0..9
        || (upper.len() == 1 && upper.chars().all(|c| c.is_ascii_digit()))
        || single("DIGIT", char::is_ascii_digit)
        || single("NUMPAD", char::is_ascii_digit)
        || single("NUM", char::is_ascii_digit)
        || function_key
}

/// Checks an accelerator such as `CommandOrControl+Shift+Space`: modifiers, then exactly one
/// key, joined by `+`. Empty means no shortcut and is fine. The refusal says what is wrong,
/// for a field's message.
pub fn check(accelerator: &str) -> Result<(), String> {
    if accelerator.is_empty() {
        return Ok(());
    }
    let tokens: Vec<&str> = accelerator.split('+').collect();
    if let [only] = tokens.as_slice() {
        // The plugin does not trim a lone key.
        let upper = only.to_uppercase();
        if is_key(&upper) {
            return Ok(());
        }
        return Err(unknown_key(only));
    }
    let mut key = None;
    for raw in &tokens {
        let token = raw.trim();
        if token.is_empty() {
            return Err(format!("has an empty part in {accelerator:?} (use NumpadAdd for the + key)"));
        }
        if let Some(key) = key {
            return Err(format!("must end with its one key, but {key:?} is followed by {token:?}"));
        }
        let upper = token.to_uppercase();
        if MODIFIERS.contains(&upper.as_str()) {
            continue;
        }
        if !is_key(&upper) {
            return Err(unknown_key(token));
        }
        key = Some(token);
    }
    if key.is_none() {
        return Err("needs a key after the modifiers, such as Ctrl+Shift+Space".into());
    }
    Ok(())
}

fn unknown_key(token: &str) -> String {
    format!("does not know the key {token:?} (modifiers, then one key: Ctrl+Shift+Space)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerators_the_plugin_takes_pass() {
        for ok in [
            "",
            "CommandOrControl+Shift+Space",
            "Ctrl+Q",
            "alt+f12",
            "Super+KeyA",
            "Shift+Digit5",
            "Ctrl + Shift + P",
            "F24",
            "Space",
            "Ctrl+Numpad0",
            "Cmd+ArrowUp",
            "Ctrl+`",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn others_are_refused_in_words() {
        let msg = check("Banana+Q").unwrap_err();
        assert!(msg.contains("\"Banana\""), "{msg}");
        for bad in
            ["Ctrl+Shift", "Ctrl+Q+W", "Ctrl++", "Q+Ctrl", "F25", "F0", "F01", "Ctrl", " Space", "KeyAA", "Num10"]
        {
            assert!(check(bad).is_err(), "{bad} passed");
        }
        assert_eq!(check("Ctrl+Shift").unwrap_err(), "needs a key after the modifiers, such as Ctrl+Shift+Space");
    }
}
