// The app's commands, one per control-protocol command. Shared by build.rs (which generates
// their `allow-<name>` permissions) and the app (whose tests check the capability grants them).
// Keep in step with `commands::handler`.

pub const COMMANDS: &[&str] = &[
    "press",
    "release",
    "set_mode",
    "load_models",
    "unload_models",
    "run_bench",
    "export_bench",
    "get_settings",
    "set_settings",
    "set_cloud_key",
    "forget_cloud_key",
    "check_cloud",
    "fetch_model",
    "status",
];
