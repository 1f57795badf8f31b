//! English number words, for reading numbers out of speech (the tools' fast path) and writing
//! them the way speech is transcribed (word error rate): one table for both.

/// "zero" to "nineteen", by value.
pub const ONES: [&str; 20] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
];

/// The tens by value / 10: "" for 0 and 10 (those are in [`ONES`]), then "twenty" to "ninety".
pub const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
