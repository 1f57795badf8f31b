//! Remembered facts as text: cleaning what is stored, telling duplicates apart, ranking facts by
//! relevance to a question (keyword overlap), and saying them back in the second person.
//!
//! Relevance is deliberately simple and predictable: lower-cased words, a few stop words left
//! out, possessives and plurals folded ("sister's", "sisters" ~ "sister"); a fact's score is
//! how many of the question's words it contains.

use std::collections::HashSet;

use super::Fact;

/// `text` as stored: control characters removed, runs of white space made one space, trimmed.
pub fn clean(text: &str) -> String {
    let no_controls: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    no_controls.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The form two facts are compared in: lower case, without final punctuation.
pub fn duplicate_key(text: &str) -> String {
    clean(text).trim_end_matches(['.', '!', '?', ' ']).to_lowercase()
}

/// Words too common to say what a question is about.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "am", "an", "and", "any", "anything", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "him", "his", "how", "i",
    "if", "in", "is", "it", "its", "know", "me", "mine", "my", "myself", "of", "on", "or", "our", "remember", "she",
    "so", "tell", "that", "the", "their", "them", "there", "they", "this", "to", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
];

/// The content words of `text`, folded.
pub fn terms(text: &str) -> HashSet<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(fold)
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// "sister's" -> "sister", "sisters'" -> "sister", "cities" -> "city", "glasses" -> "glass".
fn fold(word: &str) -> String {
    let w = word.trim_matches(['\'', '\u{2019}']);
    let w = w.strip_suffix("'s").or_else(|| w.strip_suffix("\u{2019}s")).unwrap_or(w);
    if w.chars().count() <= 3 {
        return w.to_owned();
    }
    if let Some(stem) = w.strip_suffix("ies") {
        return format!("{stem}y");
    }
    if let Some(stem) = w.strip_suffix("sses") {
        return format!("{stem}ss");
    }
    if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..w.len() - 1].to_owned();
    }
    w.to_owned()
}

/// How many of `query`'s terms `fact` contains.
pub fn score(query: &HashSet<String>, fact: &str) -> usize {
    let fact = terms(fact);
    query.iter().filter(|t| fact.contains(*t)).count()
}

/// The facts relevant to `question`, best first (ties: the newer first, as `facts` are given),
/// at most `n`; a fact sharing no word with it is never relevant.
pub fn relevant(facts: &[Fact], question: &str, n: usize) -> Vec<Fact> {
    let query = terms(question);
    if query.is_empty() || n == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(usize, usize, &Fact)> =
        facts.iter().enumerate().map(|(i, f)| (score(&query, &f.text), i, f)).filter(|(s, _, _)| *s > 0).collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(n).map(|(_, _, f)| f.clone()).collect()
}

/// The facts that contain every content word of `topic` (what "forget X" deletes: stricter
/// than [`relevant`], so that "forget my sister's birthday" keeps "my sister's name is Anna").
pub fn about_all_of(facts: &[Fact], topic: &str) -> Vec<Fact> {
    let query = terms(topic);
    if query.is_empty() {
        return Vec::new();
    }
    facts.iter().filter(|f| score(&query, &f.text) == query.len()).cloned().collect()
}

/// A topic that means every fact ("everything", "all", "" ).
pub fn means_everything(topic: &str) -> bool {
    let t = duplicate_key(topic);
    matches!(t.as_str(), "" | "all" | "everything" | "all facts" | "all of it" | "anything" | "me")
}

/// A fact as said back to the one who told it: first person turned to second ("my sister's
/// name is Anna" -> "your sister's name is Anna"), final punctuation dropped. The stored text is
/// not changed.
pub fn second_person(fact: &str) -> String {
    let words: Vec<&str> = fact.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let (core, tail) = split_punct(word);
        let lower = core.to_lowercase().replace('\u{2019}', "'");
        // "I am" / "I was": the verb changes with the pronoun.
        let next = words.get(i + 1).map(|w| split_punct(w)).map(|(c, t)| (c.to_lowercase(), t));
        if lower == "i" {
            if let Some((verb, vtail)) = &next {
                let turned = match verb.as_str() {
                    "am" => Some("are"),
                    "was" => Some("were"),
                    _ => None,
                };
                if let Some(turned) = turned {
                    out.push(format!("you {turned}{vtail}"));
                    i += 2;
                    continue;
                }
            }
        }
        let turned = match lower.as_str() {
            "i" | "me" => Some("you"),
            "my" => Some("your"),
            "mine" => Some("yours"),
            "myself" => Some("yourself"),
            "i'm" => Some("you're"),
            "i've" => Some("you've"),
            "i'll" => Some("you'll"),
            "i'd" => Some("you'd"),
            _ => None,
        };
        out.push(match turned {
            Some(t) => format!("{t}{tail}"),
            None => word.to_owned(),
        });
        i += 1;
    }
    let mut said = out.join(" ");
    while said.ends_with(['.', '!', ' ']) {
        said.pop();
    }
    said
}

/// A word's letters and what follows them ("sister," -> ("sister", ",")).
fn split_punct(word: &str) -> (&str, &str) {
    let end = word.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '\'').len();
    word.split_at(end)
}

/// "You told me: your sister's name is Anna." / "You told me 2 things: a; and b."
pub fn told_sentence(facts: &[Fact]) -> String {
    let said: Vec<String> = facts.iter().map(|f| second_person(&f.text)).collect();
    match said.as_slice() {
        [] => String::new(),
        [one] => format!("You told me: {one}."),
        [init @ .., last] => format!("You told me {} things: {}; and {last}.", said.len(), init.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(id: i64, text: &str) -> Fact {
        Fact { id, text: text.into(), created_unix_ms: 0, updated_unix_ms: 0 }
    }

    #[test]
    fn cleaning_removes_controls_and_extra_space() {
        assert_eq!(clean("  my\u{7} sister\n is\t\u{1b}Anna  "), "my sister is Anna");
        assert_eq!(duplicate_key("My sister is Anna."), duplicate_key("my  sister is anna"));
    }

    #[test]
    fn words_fold_plurals_and_possessives() {
        let t = terms("What's my sister's name? Cities, glasses, keys.");
        for w in ["sister", "name", "city", "glass", "key"] {
            assert!(t.contains(w), "{w} in {t:?}");
        }
        assert!(!t.contains("my") && !t.contains("what"), "stop words are left out");
        assert_eq!(fold("bus"), "bus");
        assert_eq!(fold("sisters'"), "sister");
    }

    #[test]
    fn relevance_ranks_by_overlap_and_drops_zero() {
        let facts = [
            fact(4, "The wifi password is hunter2"),
            fact(3, "My sister's name is Anna"),
            fact(2, "My sister lives in Oslo"),
            fact(1, "My car is parked on level 3"),
        ];
        let got: Vec<i64> = relevant(&facts, "what is my sister's name?", 5).iter().map(|f| f.id).collect();
        assert_eq!(got, vec![3, 2]);
        let got: Vec<i64> = relevant(&facts, "where do my sisters live", 1).iter().map(|f| f.id).collect();
        assert_eq!(got, vec![2], "ties go to the newer, and n caps the list");
        assert!(relevant(&facts, "what is the weather", 3).is_empty());
        assert!(relevant(&facts, "is it", 3).is_empty(), "stop words alone match nothing");
        assert!(relevant(&facts, "sister", 0).is_empty());
    }

    #[test]
    fn forgetting_needs_every_word_of_the_topic() {
        let facts = [fact(2, "My sister's birthday is in May"), fact(1, "My sister's name is Anna")];
        let ids = |topic| about_all_of(&facts, topic).iter().map(|f| f.id).collect::<Vec<_>>();
        assert_eq!(ids("my sister's birthday"), [2]);
        assert_eq!(ids("my sisters"), [2, 1]);
        assert!(ids("the car").is_empty());
        assert!(ids("it").is_empty());
    }

    #[test]
    fn facts_are_said_back_in_the_second_person() {
        assert_eq!(second_person("my sister's name is Anna."), "your sister's name is Anna");
        assert_eq!(second_person("I am allergic to nuts"), "you are allergic to nuts");
        assert_eq!(second_person("I'm left-handed and my keys are mine"), "you're left-handed and your keys are yours");
        assert_eq!(second_person("Anna and I met in 2019"), "Anna and you met in 2019");
        assert_eq!(second_person("The wifi password is hunter2"), "The wifi password is hunter2");
    }

    #[test]
    fn told_sentences() {
        assert_eq!(told_sentence(&[fact(1, "my sister's name is Anna")]), "You told me: your sister's name is Anna.");
        assert_eq!(
            told_sentence(&[fact(1, "my sister's name is Anna."), fact(2, "she lives in Oslo")]),
            "You told me 2 things: your sister's name is Anna; and she lives in Oslo."
        );
    }
}
