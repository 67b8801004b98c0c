//! When the plan rotates the runner token: the token in the Secret can no longer be known or
//! no longer works (`token_digest` null after refresh), `rotation_trigger` changed, or
//! `token_expires_at` is within `rotate_before`.

use std::fmt;

use tfplugin::duration::parse_go_duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::model::Model;

/// Why the token is reset at the next apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The Secret is gone or was edited, or GitLab no longer accepts its token (it was reset or
    /// rotated elsewhere, e.g. by the runner process itself, or it expired).
    TokenLost,
    /// `rotation_trigger` changed.
    Trigger,
    /// `token_expires_at` is within `rotate_before`.
    Expiring {
        expires_at: String,
        rotate_before: String,
    },
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenLost => f.write_str(
                "the token Secret is missing or was changed outside Terraform, or GitLab no longer accepts the token in it (reset or rotated elsewhere — for example by the runner process itself — or expired); the token cannot be recovered, so apply resets it and writes the new one into the Secret",
            ),
            Self::Trigger => f.write_str("rotation_trigger changed"),
            Self::Expiring {
                expires_at,
                rotate_before,
            } => write!(
                f,
                "the token expires at {expires_at}, within rotate_before ({rotate_before})"
            ),
        }
    }
}

/// Whether (and why) the update planned from `prior` state to `config` resets the token at
/// `now`. An unreadable expiry is left alone (never rotated on a guess).
pub fn due(prior: &Model, config: &Model, now: OffsetDateTime) -> Option<Rotation> {
    if prior.token_digest.is_null() {
        return Some(Rotation::TokenLost);
    }
    if !config.rotation_trigger.is_unknown()
        && prior.rotation_trigger.known() != config.rotation_trigger.known()
    {
        return Some(Rotation::Trigger);
    }
    let before = config.rotate_before.known()?;
    let expires_at = prior.token_expires_at.known()?;
    let window = parse_go_duration(before).ok()?;
    let expires = OffsetDateTime::parse(expires_at, &Rfc3339).ok()?;
    let window = time::Duration::try_from(window).ok()?;
    (expires - window <= now).then(|| Rotation::Expiring {
        expires_at: expires_at.clone(),
        rotate_before: before.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin::TfValue;
    use time::macros::datetime;

    fn model(digest: Option<&str>, expires: Option<&str>) -> Model {
        let mut m: Model = serde_json::from_value(serde_json::json!({
            "id": "1", "runner_id": 1, "runner_type": "instance_type", "group_id": null,
            "project_id": null, "gitlab_url": null, "description": "", "tag_list": [],
            "run_untagged": true, "locked": false, "paused": false,
            "access_level": "not_protected", "maximum_timeout": null, "maintenance_note": "",
            "token_secret_name": "s", "token_digest": null, "token_expires_at": null,
            "rotate_before": null, "rotation_trigger": null,
            "token_secret": [{"namespace": "ns", "name": "s"}], "timeouts": null
        }))
        .unwrap();
        m.token_digest = digest.map_or(TfValue::Null, |d| TfValue::Known(d.to_owned()));
        m.token_expires_at = expires.map_or(TfValue::Null, |e| TfValue::Known(e.to_owned()));
        m
    }

    const NOW: OffsetDateTime = datetime!(2030-01-10 00:00 UTC);

    #[test]
    fn a_lost_token_and_a_changed_trigger_rotate() {
        let config = model(None, None);
        assert_eq!(
            due(&model(None, None), &config, NOW),
            Some(Rotation::TokenLost)
        );
        let prior = model(Some("sha256:x"), None);
        assert_eq!(due(&prior, &config, NOW), None);
        let mut triggered = config.clone();
        triggered.rotation_trigger = TfValue::Known("2030-01".into());
        assert_eq!(due(&prior, &triggered, NOW), Some(Rotation::Trigger));
    }

    #[test]
    fn expiry_rotates_only_inside_the_window() {
        let prior = model(Some("sha256:x"), Some("2030-01-15T00:00:00.000Z"));
        let mut config = model(None, None);
        assert_eq!(due(&prior, &config, NOW), None, "no rotate_before");
        config.rotate_before = TfValue::Known("72h".into());
        assert_eq!(due(&prior, &config, NOW), None, "5 days left, 3-day window");
        config.rotate_before = TfValue::Known("168h".into());
        assert!(matches!(
            due(&prior, &config, NOW),
            Some(Rotation::Expiring { .. })
        ));
        let never = model(Some("sha256:x"), None);
        assert_eq!(due(&never, &config, NOW), None, "a token without expiry");
    }
}
