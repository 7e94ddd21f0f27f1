//! HTML reports through the ingest pipeline, on real mail (tests/data/real,
//! provenance in SOURCES.md): the case log's text keeps the mail's lines,
//! lists and links, and the missing-items check reads numbered steps in an
//! HTML-only report as steps.

mod support;

use secdesk::case::report::{missing_items, ReportItem};
use secdesk::inbound::Outcome;
use secdesk::mail::html::html_to_text;
use support::pipeline::*;

fn real(name: &str) -> Vec<u8> {
    sample(&format!("real/{name}"))
}

/// The body text the store kept for the message filed last.
fn stored_body(f: &Fixture) -> String {
    f.text("SELECT body_text FROM messages ORDER BY id DESC LIMIT 1")
}

/// The HTML alternative of a real message, as the converter lays it out.
fn html_part_text(raw: &[u8]) -> String {
    let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
    html_to_text(&msg.body_html(0).unwrap()).unwrap()
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn an_html_only_report_with_numbered_steps_is_not_asked_for_steps() {
    let raw = real("outlook-html-only-report-derived.eml");
    let mut f = fixture();
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let body = stored_body(&f);
    for line in [
        "Hello security team,",
        "How to trigger it:",
        "1. Save the attached evil-env.json",
        "2. File > Open environment, and pick it",
        "3. Hover the environment name in the sidebar",
        "Escaping the name before it is rendered would fix it.",
    ] {
        assert!(has_line(&body, line), "{line:?} in:\n{body}");
    }
    assert!(
        body.contains("my write-up (https://reporter.example/xss-writeup)"),
        "{body}"
    );
    let case = f
        .store
        .get_case(r.case.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(case.missing_items, Vec::<String>::new());
    let ack = &f.outbox_bodies()[0].2;
    assert!(!ack.contains("Step-by-step"), "{ack}");

    // What mail-parser's own conversion made of it: the steps run together
    // and the check asked the reporter for them.
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let flat = msg.body_text(0).unwrap();
    assert!(flat.contains("evil-env.jsonFile > Open"), "{flat}");
    let subject = msg.subject().unwrap();
    assert!(missing_items(subject, &flat).contains(&ReportItem::StepsToReproduce));
}

#[test]
fn outlook_msonormal_paragraphs_and_line_breaks_are_kept() {
    let raw = real("outlook-msonormal-reply.eml");
    let t = html_part_text(&raw);
    for line in [
        "Allo! Follow up MIME!",
        "From: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]",
        "Sent: March-09-12 4:22 PM",
        "To: Dan Le",
        "Subject: The manager has commented on your Loop",
        "Hi dan.le@example.com,",
        "Loop details:",
    ] {
        assert!(has_line(&t, line), "{line:?} in:\n{t}");
    }
    // Paragraphs stay apart; Outlook's `<p>&nbsp;</p>` is one empty line.
    assert!(t.starts_with("Allo! Follow up MIME!\n\nFrom: "), "{t}");
    assert!(!t.contains("\n\n\n"), "{t}");
    assert!(t.contains(
        "Your Loop is here (http://dev.xxx.com/loop/view/4f50f20e160839c95a000bb3?_uid=4f3541a7ac63e655040008e3)."
    ));
    // Filed, the message keeps its own text/plain alternative.
    let mut f = fixture();
    f.ingest(&raw);
    assert!(stored_body(&f).starts_with("Hello\n\nFrom: xxx@xxx.mailgun.org"));
}

#[test]
fn outlook_web_div_lines_and_reply_header_block_are_kept() {
    let raw = real("mailman-outlook-web-reply.eml");
    let t = html_part_text(&raw);
    for line in [
        "hi, Frediano,",
        // A link whose text is its URL is shown once.
        "The vdagent is:  https://www.spice-space.org/download/windows/spice-guest-tools/spice-guest-tools-latest.exe",
        "From: Frediano Ziglio <fziglio@redhat.com>",
        "Sent: Thursday, January 16, 2020 11:53 AM",
        "To: Yuri Benditovich <yuri.benditovich@daynix.com>",
        "Franklin, what version of the agent are you using?",
    ] {
        assert!(has_line(&t, line), "{line:?} in:\n{t}");
    }
    assert!(t.starts_with("hi, Frediano,\n\nThe vdagent is:"), "{t}");
    // Filed through Mailman: the list's footer part does not replace the text.
    let mut f = fixture();
    f.ingest(&raw);
    let body = stored_body(&f);
    assert!(body.starts_with("hi, Frediano,"), "{body}");
}

#[test]
fn gmail_quotes_and_div_lines_are_kept() {
    let raw = real("google-groups-dmarc-via.eml");
    let t = html_part_text(&raw);
    assert!(
        t.starts_with("Agreed.\nThat makes it much cleaner now.\nThanks\n"),
        "{t}"
    );
    for line in [
        "On Wed, Feb 19, 2020 at 5:20 AM Marcel Holtmann <marcel@holtmann.org> wrote:",
        "> Hi Howard,",
        "> Am I missing anything?",
        "> Marcel",
    ] {
        assert!(has_line(&t, line), "{line:?} in:\n{t}");
    }
    // The list footer's link text is its URL without Google's tracking
    // query, so both are shown: what the reader saw, and where it goes.
    assert!(
        t.contains("%40mail.gmail.com (https://groups.google.com/d/msgid/"),
        "{t}"
    );
    assert!(t.contains("?utm_medium=email&utm_source=footer)."), "{t}");
    // In-line mailto links whose text is the address are shown once.
    assert!(has_line(&t, "To unsubscribe from this group and stop receiving emails from it, send an email to clang-built-linux+unsubscribe@googlegroups.com."), "{t}");
}

#[test]
fn apple_mail_html_only_br_lines_are_kept() {
    let raw = real("apple-mail-html-only-reply.eml");
    let mut f = fixture();
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let body = stored_body(&f);
    // Apple Mail's leading `<br>`s are not kept as blank lines.
    assert!(
        body.starts_with("> On Jun 22, 2021, at 7:55 AM, Joel Stanley <joel@jms.id.au> wrote:\n"),
        "{body}"
    );
    for line in [
        "> On Fri, 18 Jun 2021 at 15:14, Adriana Kobylak <anoo@linux.ibm.com> wrote:",
        // Each `<br>` in the quoted patch ends a line of its own.
        "> > Per the ast2600_openbmc_spl_emmc_defconfig, the environment is located",
        "> > at byte offset 0x5000 in the user data partition, and is sized at",
        "> > 0x10000. The redundant environment follows it immediately and is the",
        "> > same size.",
        "> > Signed-off-by: Eddie James <eajames@linux.ibm.com>",
        "> > diff --git a/include/configs/aspeed-common.h b/include/configs/aspeed-common.h",
        "> > @@ -83,6 +83,7 @@",
        "> > #ifdef CONFIG_ENV_IS_IN_MMC",
        "> Would it make more sense to write it like this:",
        "> #define CONFIG_ENV_OFFSET_REDUND (CONFIG_ENV_OFFSET + CONFIG_ENV_SIZE)",
        // The reply itself, a `<div>` between two quotes.
        "Yeah good point. Just sent a v2 with that change.",
        "> > #endif /* __ASPEED_COMMON_CONFIG_H */",
        "> > 2.25.1",
    ] {
        assert!(has_line(&body, line), "{line:?} in:\n{body}");
    }
    // `&nbsp;` runs that align the patch's values stay on their line.
    assert!(
        body.lines()
            .any(|l| l.starts_with("> > #define CONFIG_SYS_MMC_ENV_DEV ") && l.ends_with(" 0")),
        "{body}"
    );
    assert!(
        body.contains("0x15000\n>\n> Would it make more sense"),
        "{body}"
    );
    assert!(
        body.contains("CONFIG_ENV_SIZE)\n\nYeah good point. Just sent a v2 with that change.\n\n>"),
        "{body}"
    );

    // What mail-parser's own conversion made of it: one run of text.
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let flat = msg.body_text(0).unwrap();
    assert!(
        flat.contains("the environment is locatedat byte offset"),
        "{flat}"
    );
    assert!(
        flat.contains("(CONFIG_ENV_OFFSET + CONFIG_ENV_SIZE)Yeah good point."),
        "{flat}"
    );
}

#[test]
fn gmail_ordered_list_items_are_numbered_lines() {
    let raw = real("gmail-ordered-list.eml");
    let t = html_part_text(&raw);
    // Gmail's `<div dir="ltr">…<ol><li>…</li></ol>`: one numbered line per
    // item, the source's stray line breaks inside an item folded into it.
    for (start, end) in [
        (
            "1.  As of this branch UHD 3.15 LTS, it was mentioned",
            "target type  X310_RFNOC_HLS_HG . Is it removed or what up with that ?",
        ),
        (
            "2.  Second is with respect to gr-ettus",
            "Here is the link for the issue: https://github.com/EttusResearch/gr-ettus/issues/45",
        ),
        (
            "3. Third, as this will be my first time working with RFNoC and FPGA",
            "I am looking to connect with is anyone working/worked with PFB",
        ),
        (
            "4. Last one, how is the structure gonna change in future",
            "But in any case, I need gnuradio integration",
        ),
    ] {
        assert!(
            t.lines().any(|l| l.starts_with(start) && l.ends_with(end)),
            "{start:?} … {end:?} in:\n{t}"
        );
    }
    assert!(
        t.contains("that I want help with\n\n1.  As of this branch"),
        "{t}"
    );
    assert!(
        t.contains("I need gnuradio integration\n\nI know it is a lot of questions"),
        "{t}"
    );
    for line in [
        "Hello Guys,",
        "My system setup,",
        "Thanks and Regards.",
        "Yaaseen",
    ] {
        assert!(has_line(&t, line), "{line:?} in:\n{t}");
    }
    // Filed through Mailman, the message keeps Gmail's own text/plain
    // alternative, whose list is numbered too.
    let mut f = fixture();
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let body = stored_body(&f);
    assert!(body.starts_with("Hello Guys,\n"), "{body}");
    for line in [
        "   1.  As of this branch UHD 3.15 LTS, it was mentioned I should use",
        "   2.  Second is with respect to gr-ettus (I came to know that there are",
        "   3. Third, as this will be my first time working with RFNoC and FPGA",
        "   4. Last one, how is the structure gonna change in future with UHD 4.0 &",
    ] {
        assert!(has_line(&body, line), "{line:?} in:\n{body}");
    }
}

#[test]
fn every_real_fixture_is_filed_with_readable_text() {
    let cases = [
        (
            "outlook-msonormal-reply.eml",
            "Subject: The manager has commented on your Loop",
        ),
        (
            "mailman-outlook-web-reply.eml",
            "Franklin, what version of the agent are you using?",
        ),
        (
            "google-groups-dmarc-via.eml",
            "That makes it much cleaner now.",
        ),
        (
            "google-groups-from-kept.eml",
            "I don't know why you think it is a variant. It sounds to me it is a natural",
        ),
        // Its first line is 255 spaces; the headers after it are read.
        ("thunderbird-forward-as-attachment.eml", "Hello"),
        (
            "outlook-html-only-report-derived.eml",
            "1. Save the attached evil-env.json",
        ),
        (
            "apple-mail-html-only-reply.eml",
            "Yeah good point. Just sent a v2 with that change.",
        ),
        (
            "gmail-ordered-list.eml",
            "   3. Third, as this will be my first time working with RFNoC and FPGA",
        ),
    ];
    let mut f = fixture();
    for (name, line) in cases {
        let r = f.ingest(&real(name));
        assert_ne!(r.outcome, Outcome::Rejected, "{name}");
        let body = stored_body(&f);
        assert!(has_line(&body, line), "{name}: {line:?} in:\n{body}");
    }
    assert_eq!(f.count("SELECT COUNT(*) FROM messages"), cases.len() as i64);
}
