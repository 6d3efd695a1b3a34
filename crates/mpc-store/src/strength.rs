//! How guessable a new passphrase is, by zxcvbn's estimate. Argon2id makes
//! each guess cost ~19 MiB and tens of milliseconds, which buys little
//! against a top-1000 password: new secrets must reach zxcvbn's score 3.

use std::fmt;

use crate::secret::Passphrase;

/// The lowest zxcvbn score (0 to 4) a new passphrase may have: 3 is about
/// 10^10 guesses, what zxcvbn's authors call "safely unguessable".
pub const MIN_PASSPHRASE_SCORE: u8 = 3;

/// A passphrase scored below [`MIN_PASSPHRASE_SCORE`], with zxcvbn's advice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WeakPassphrase {
    /// zxcvbn's score, 0 to 4.
    pub score: u8,
    /// What makes it guessable, when zxcvbn can say.
    pub warning: Option<String>,
    /// How to make it stronger.
    pub suggestions: Vec<String>,
}

/// `too weak (strength 0 of 4, 3 or more needed): <zxcvbn's warning> <its suggestions>`,
/// each a sentence ending in a period, to follow "the passphrase is".
impl fmt::Display for WeakPassphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too weak (strength {} of 4, {MIN_PASSPHRASE_SCORE} or more needed)",
            self.score
        )?;
        match &self.warning {
            Some(warning) => write!(f, ": {warning}")?,
            None => f.write_str(".")?,
        }
        for suggestion in &self.suggestions {
            write!(f, " {suggestion}")?;
        }
        Ok(())
    }
}

/// Checks a passphrase about to protect a new share or backup. Opening an
/// existing file never asks: its passphrase is what it is.
pub fn check_new_passphrase(passphrase: &Passphrase) -> Result<(), WeakPassphrase> {
    // zxcvbn copies what it matches into its result (not zeroized); it is
    // dropped here, before the passphrase is used.
    let entropy = zxcvbn::zxcvbn(passphrase.as_str(), &[]);
    let score = u8::from(entropy.score());
    if score >= MIN_PASSPHRASE_SCORE {
        return Ok(());
    }
    let feedback = entropy.feedback();
    Err(WeakPassphrase {
        score,
        warning: feedback
            .and_then(|feedback| feedback.warning())
            .map(|warning| warning.to_string()),
        suggestions: feedback
            .map(|feedback| {
                feedback
                    .suggestions()
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(passphrase: &str) -> Result<(), WeakPassphrase> {
        check_new_passphrase(&Passphrase::new(passphrase.to_owned()).unwrap())
    }

    #[test]
    fn common_and_short_passphrases_are_weak_with_advice() {
        for weak in ["abc", "password", "Password1", "qwerty123", "aaaaaaaaaa"] {
            let error = check(weak).unwrap_err();
            assert!(error.score < MIN_PASSPHRASE_SCORE, "{weak}: {error:?}");
            let message = error.to_string();
            assert!(message.starts_with("too weak (strength "), "{message}");
            assert!(message.ends_with('.'), "{message}");
            assert!(
                error.warning.is_some() || !error.suggestions.is_empty(),
                "{weak}: zxcvbn's advice is kept: {error:?}"
            );
        }
        let common = check("password").unwrap_err().to_string();
        assert!(common.contains("common password"), "{common}");
    }

    #[test]
    fn long_unusual_passphrases_pass() {
        for strong in [
            "correct horse battery staple",
            "co-signer test passphrase",
            "tangerine orbit velvet quarry",
        ] {
            assert_eq!(check(strong), Ok(()), "{strong}");
        }
    }
}
