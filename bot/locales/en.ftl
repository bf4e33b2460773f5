## tipbot — English messages (Telegram HTML: <b>, <i>, <code> only; arguments are escaped).
## Every key here must exist in uk.ftl and ru.ftl with the same placeholders.

## Language and introduction

language-choose = Choose your language:
language-set = ✓ The bot will now speak English.

intro =
    <b>{ $org }</b> collects reports of war crimes and human-rights violations: attacks on civilians, killings, torture, abductions, deportations, looting.

    <b>Is this the real bot?</b> Our only official bot is { $handle }: check it letter by letter, fakes exist. We never ask for money, passwords, documents, your face or voice, or where troops are.

    <b>Safety first:</b> do not take risks to collect evidence. The bot can erase this chat, but that is not a guarantee.

    <b>Privacy:</b> we keep no name, username or phone number. What you send is kept as evidence and may go to investigators. You can delete your data at any time.
intro-agree = ✅ I agree, continue
intro-more = More about privacy

privacy-notice =
    <b>Privacy and safety</b>

    <b>We keep</b> your reports and files exactly as received (a file can show where and when it was made), and your chat number, encrypted, to answer you. <b>We never keep</b> your name, username or phone number.

    <b>Our moderators</b> read reports; verified information may go to investigators and courts. We never publish who reported.

    <b>Telegram:</b> bot chats are not end-to-end encrypted. The bot can erase this chat for up to 48 hours after each message; erasing is not a guarantee.

    You can delete your data at any time (menu → “Delete my data”).
privacy-more = 📖 More details

privacy-details =
    <b>Privacy: the details</b>

    <b>Who we are.</b> This bot is run by { $org }. Our only official bot is { $handle }.

    <b>What we keep:</b> your reports (category, description, date, place, who was responsible); your files, exactly as received, with their technical details (these can include the place and time a photo was taken); your choices about contact; the date you agreed to these terms; a code that stands for your Telegram account; and your chat number, encrypted, so that we can answer you.

    <b>Contact:</b> we write to you only if you allow it in a report: questions from our team and, if you ask for it, one message when the report has been reviewed. They arrive as ordinary Telegram messages, with a notification on your phone. We never reveal who on our team asked.

    <b>Your choices:</b> “My reports” shows what you sent. “Delete my data” deletes unfinished reports, withdraws and erases reports not yet reviewed, and forgets your chat. Reports already under review are kept, because they may already be evidence, but they are detached from you: if you use the bot again, you start afresh, and nothing links your new reports to the earlier ones.

    <b>Staying safe:</b> if your phone may be checked, erase the chat after reporting, delete the chat itself from your chat list, and consider deleting sent photos from your gallery. Messages older than 48 hours only you can delete.

consent-thanks = ✓ Thank you. You can report now.
consent-first = To use the bot, please choose your language and read the short introduction first.
consent-first-short = Please choose a language first.
files-before-consent = ⚠️ What you sent was not kept: nothing is stored before you agree to our privacy terms. Please choose your language, read the short introduction and agree — then send your files again.

## Menu

menu-text = What would you like to do?
menu-new = 📝 New report
menu-mine = 📋 My reports
menu-privacy = 🛡 Privacy & safety
menu-language = 🌐 Language
menu-delete = 🗑 Delete my data
menu-hint = To report an incident, press “New report”.
back-to-menu = « Menu
welcome-back = Welcome back.
erase-chat-button = 🧹 Erase this chat

help =
    <b>How this bot works</b>
    Press “New report” and answer eight short steps: what happened, a description, when, where, who was responsible, photos or videos, whether we may contact you, and a final check. You can go back, skip optional steps, and check everything before sending.

    /report — new report
    /myreports — your reports and their status
    /cancel — cancel the report you are writing
    /language — change the language
    /privacy — privacy and safety
    /deletemydata — delete your data
    /help — this message

    Our only official bot is { $handle }.
unknown-command = I don't know this command. Send /help to see what I can do.
edited-ignored = I can't pick up changes to a message that was already sent. Please send the correction as a new message.
group-pointer = Reports are taken only in a private chat, to protect you. Please write to me directly: @{ $username }

# TIPBOT_ORG_NAME not set: who runs the bot, in the introduction (starting a sentence) and in the privacy notice (inside one).
org-unnamed = The team behind this bot
org-unnamed-inline = the team behind this bot

# The bot was added to a group by one of the group's admins (TIPBOT_MODERATOR_LANGUAGE).
group-added =
    👋 To make this the moderators' group, put this line in the bot's settings and restart it:
    <code>MODERATOR_CHAT_ID={ $chat_id }</code>
    I should be an administrator allowed to delete messages (and to manage topics, if you use them).
group-added-configured = ✓ This is the moderators' group (MODERATOR_CHAT_ID): new reports will appear here.

## Commands (shown in Telegram's menu)

cmd-start = Start / main menu
cmd-report = New report
cmd-myreports = My reports
cmd-language = Change language
cmd-privacy = Privacy and safety
cmd-cancel = Cancel the current report
cmd-help = Help
cmd-deletemydata = Delete my data

## Resuming and cancelling

resume-text = You have an unfinished report, started { $started } (step { $step } of { $total }).
resume-continue = ▶️ Continue
resume-restart = 🔄 Start over
discard-confirm = Cancel this report? What you entered and the files you sent for it will be deleted.
discard-yes = Yes, delete it
discard-no = No, continue
discarded = ✓ The report was cancelled and deleted.
cancel-nothing = There is no report in progress.
no-open-report = This report is no longer open.
stale-button = This button is no longer active.
limit-reports = Thank you — you have sent { $limit } reports in the last 24 hours, the most we accept from one person per day. Please continue tomorrow.
flood-notice = You are sending messages very fast, so I have paused for a minute. Files you send are still saved; other messages sent during the pause are not: please wait a minute, then send them again.
error-generic = Sorry, something went wrong on our side. What you sent before is saved. Please try again in a moment.

## Navigation

nav-back = ◀️ Back
nav-back-review = ◀️ Back to review
nav-skip = Skip ⏭
nav-cancel = ✖️ Cancel report
nav-next = Next ▶️
saved-line = ✓ { $field }: { $value }
field-category = Category
field-when = Date
field-where = Place
field-who = Responsible
field-contact = Contact
not-answered = not given

## Step 1: category

step-category-title = <b>Step { $number } of { $total } · What happened?</b>
step-category-text = Choose what best describes the incident. If you are not sure, choose “Other / not sure”.
use-buttons-category = ⚠️ Please choose a category with the buttons below.
category-strike = Strike on civilians or civilian buildings
category-protected_site = Attack on a hospital, school, church or cultural site
category-killing = Killing of civilians or of people who surrendered
category-torture = Torture or ill-treatment
category-detention = Detention, hostage-taking or disappearance
category-sexual_violence = Sexual violence
category-deportation = Deportation or forced transfer, including of children
category-looting = Looting or destruction of property
category-pow = Mistreatment of prisoners of war
category-perfidy = Misuse of emblems or white flags, human shields
category-weapons = Prohibited weapons
category-forced_service = Forced service in the other side's forces
category-starvation = Starvation, attacks on water, power or food supplies
category-bodies = Bodies or a grave site found
category-other = Other / not sure

## Step 2: description

step-description-title = <b>Step { $number } of { $total } · Describe what happened</b>
step-description-text =
    In your own words: what did you see or hear? Who was affected, how many people, what was damaged? You can send several messages, or a voice message.
    <i>Do not write your own name, phone number or address.</i>
step-description-saved = <i>Saved so far: { $chars } characters{ $voices ->
        [0] {""}
        [one] {" "}and 1 voice message
       *[other] {" "}and { $voices } voice messages
    }. Add more, or press “Next”.</i>
step-description-saved-voice = <i>Saved so far: { $voices ->
        [one] { $voices } voice message
       *[other] { $voices } voice messages
    }. Add more, or press “Next”.</i>
description-saved = ✓ Saved.
description-appended = ✓ I added your text to the description.
description-voice-saved = 🎙 Your voice message is saved as testimony.
description-empty = Please describe what happened first — in a message or a voice message.
description-too-long = ⚠️ This message is too long ({ $length } characters; up to { $limit } fit in one). Nothing was saved: please shorten it, or split it into two messages — each is added to the description.
description-total-too-long = ⚠️ The description is already very long (up to { $limit } characters in all). This message was not added. Please press “Next”; you can mention anything else to our team if they contact you.

## Step 3: when

step-when-title = <b>Step { $number } of { $total } · When did it happen?</b>
step-when-text = Choose, or type the date, for example <code>24.02.2022</code> — or <code>02.2022</code> if you only know the month. You can add a time: <code>24.02.2022 05:30</code>.
step-when-type = Type the date in your next message, for example <code>24.02.2022</code>, <code>2022-02-24</code>, <code>24.02</code> (this year) or <code>02.2022</code> (only the month).
when-today = Today
when-yesterday = Yesterday
when-type = 📅 Type a date
when-unknown = I don't know
date-error-format = ⚠️ I couldn't read that date. Please write it like <code>24.02.2022</code>, or <code>02.2022</code> for a month.
date-error-invalid = ⚠️ That date doesn't exist. Please check the day and month.
date-error-future = ⚠️ That date is in the future. Please check it.
date-error-too_early = ⚠️ We accept reports of events from { $earliest } on. Please check the date.
date-day = { $date }
date-month = { $date } (month only)
date-unknown = unknown

## Step 4: where

step-where-title = <b>Step { $number } of { $total } · Where did it happen?</b>
step-where-text =
    Type the name of the town or village, for example <code>Bucha</code>.
    Or send a point on the map: 📎 → Location, move the pin to the place of the incident and tap “Send selected location”.
    <i>Send your current location only if the incident happened right there and you are safe: it shows where you are.</i>
where-unknown = I don't know / prefer not to say
where-matches = I found these places for “{ $typed }”. Choose one:
where-not-found = I couldn't find “{ $typed }” among Ukrainian settlements. Check the spelling, type a larger town nearby, or share a point on the map. You can also keep your text as it is.
where-keep = Keep “{ $typed }” as written
where-too-long = ⚠️ Please type just the place name (up to { $limit } characters).
location-wrong-step = ⚠️ A place can be given at step 4 (“Where”); you can change it on the review screen.
location-no-report = To report an incident, press “New report” first; I will ask for the place there.
location-invalid = ⚠️ This location is not valid. Please try again.
location-live = ⚠️ This is a <b>live</b> location: it keeps showing where you are, so I do not keep it. Please stop sharing it in Telegram. To give the place, send a fixed point (📎 → Location → “Send selected location”) or type the name of the place.
place-point-near = near { $place } (approximate, from a shared point)
place-point = a point on the map ({ $lat }, { $lon })
place-typed = “{ $typed }” (as written)
place-unknown = not given

## Step 5: who

step-who-title = <b>Step { $number } of { $total } · Who was responsible?</b>
step-who-text = If you don't know, that's fine — choose “Unknown”. If you saw uniforms, insignia or vehicle markings, or heard which language was spoken, choose “Other — describe” and tell us what you saw.
step-who-other = Describe what you saw: uniforms, insignia, vehicle markings, the language spoken — anything that may help to identify who was responsible.
party-unknown = Unknown
party-russia = Russian forces or those acting with them
party-ukraine = Ukrainian forces or those acting with them
party-other = Other — describe
perpetrator-other = other: “{ $text }”
who-too-long = ⚠️ Please keep it under { $limit } characters.

## Step 6: evidence

step-evidence-title = <b>Step { $number } of { $total } · Photos, videos, documents</b>
step-evidence-text =
    Send photos, videos, documents, audio or voice messages — up to { $max } files; albums are fine.
    💡 To keep the original with all its details, send photos and videos <b>as a file</b> (📎 → File). Ordinary photos are compressed by Telegram.
    <i>Do not take risks to get pictures.</i>
step-evidence-count = <i>Files in this report: { $total }.</i>
evidence-done = ✅ Done
evidence-none = Skip — I have no files
evidence-new-report = 📝 I started a new report with what you sent.
evidence-received = { $count ->
        [one] ✓ 1 file received
       *[other] ✓ { $count } files received
    }, { $total } in total.
evidence-voices = { $count ->
        [one] 🎙 1 voice message saved as testimony.
       *[other] 🎙 { $count } voice messages saved as testimony.
    }
evidence-too-large = ⚠️ “{ $name }” ({ $size } MB) is larger than the { $limit } MB the bot can download. It is recorded, and our team can still view it in Telegram. If you can, also send a shorter or smaller version.
evidence-failed = { $count ->
        [one] ⚠️ 1 file could not be saved because of a connection problem. Please send it again.
       *[other] ⚠️ { $count } files could not be saved because of a connection problem. Please send them again.
    }
evidence-storage-failed = { $count ->
        [one] ⚠️ 1 file could not be saved right now because of a storage problem on our side. Please send it again later.
       *[other] ⚠️ { $count } files could not be saved right now because of a storage problem on our side. Please send them again later.
    }
evidence-limit = { $count ->
        [one] ⚠️ One report can hold up to { $max } files, so 1 file was not added.
       *[other] ⚠️ One report can hold up to { $max } files, so { $count } files were not added.
    } You can send more in a new report.
evidence-originals-hint = 💡 Telegram compresses photos sent the usual way and removes their details. If you still have the originals, send them again <b>as a file</b> (📎 → File) — investigators value originals most.
kind-photo = photo
kind-video = video
kind-document = document
kind-voice = voice message
kind-audio = audio
kind-video_note = video message
kind-animation = GIF
kind-sticker = Stickers
kind-contact = Contacts
kind-poll = Polls
kind-dice = Dice
kind-game = Games
kind-story = Stories
kind-invoice = Payments
kind-other = Messages of this type
unsupported = ⚠️ { $what } are not accepted here.

## Step 7: contact

step-contact-title = <b>Step { $number } of { $total } · May we contact you?</b>
step-contact-text =
    May our team ask you follow-up questions through this bot? No one on the team will see who you are. Questions arrive as ordinary messages, so your phone shows them as notifications, on the lock screen too. If you choose “No”, no one will ask you anything about this report.
    To also get one message when your report has been reviewed, tick the box first: without the tick, none is sent.
contact-notify-off = ⬜️ Tell me when it has been reviewed
contact-notify-on = ☑️ Tell me when it has been reviewed
contact-yes = Yes, you may ask me questions
contact-no = No
contact-yes-short = yes
contact-no-short = no
use-buttons-contact = ⚠️ Please answer with the buttons below.

## Step 8: review

step-review-title = <b>Step { $number } of { $total } · Check your report</b>
step-review-text = Check everything before sending. You can still change any part.
review-summary =
    <b>What happened:</b> { $category }
    <b>Description:</b> { $description }
    <b>When:</b> { $date }
    <b>Where:</b> { $place }
    <b>Responsible:</b> { $perpetrator }
    <b>Files:</b> { $media }
    <b>Contact for questions:</b> { $contact }
    <b>Message when reviewed:</b> { $notify }
review-edit-category = ✏️ Category
review-edit-description = ✏️ Description
review-edit-when = ✏️ Date
review-edit-where = ✏️ Place
review-edit-who = ✏️ Responsible
review-edit-evidence = ➕ Files
review-edit-contact = ✏️ Contact
review-submit = ✅ Send report
review-missing = Please fill in the category, the description and the date first.
use-buttons-review = ⚠️ Please use the buttons below to change something or to send the report.
media-none = none
media-summary = { $total } ({ $kinds })
media-kind-photo = { $count ->
        [one] 1 photo
       *[other] { $count } photos
    }
media-kind-video = { $count ->
        [one] 1 video
       *[other] { $count } videos
    }
media-kind-document = { $count ->
        [one] 1 document
       *[other] { $count } documents
    }
media-kind-voice = { $count ->
        [one] 1 voice message
       *[other] { $count } voice messages
    }
media-kind-audio = { $count ->
        [one] 1 audio file
       *[other] { $count } audio files
    }
media-kind-video_note = { $count ->
        [one] 1 video message
       *[other] { $count } video messages
    }
media-kind-animation = { $count ->
        [one] 1 GIF
       *[other] { $count } GIFs
    }

## After sending

submitted =
    ✅ <b>Your report has been sent.</b> Thank you.
    Reference: <code>{ $reference }</code> — keep it to ask about your report.

    If your phone may be checked, you can erase this conversation now. The bot deletes both your messages and its own from the last 48 hours and leaves only the reference. Erasing is not a guarantee: copies may remain elsewhere.
erase-button = 🧹 Erase this conversation
erase-working = Erasing…
erase-done = Reference: { $reference }.
erase-done-plain = ✓
delete-chat-hint = The chat itself stays in your chat list. To remove it: press and hold it in the list and tap 🗑 (Android), swipe it left and tap “Delete” (iPhone), or right-click it and choose “Delete chat” (computer); then confirm.

## My reports

mine-title = <b>Your reports</b>
mine-line = <code>{ $reference }</code> · { $date } · { $category } · <i>{ $status }</i>
mine-empty = You have not sent any reports yet.
status-draft = not finished
status-submitted = received, waiting for review
status-withdrawn = withdrawn
status-in-review = being reviewed

## Delete my data

delete-confirm =
    <b>Delete my data?</b>
    • unfinished reports are deleted;
    • reports not yet reviewed are withdrawn, and their text and files are deleted;
    • reports already under review are kept: they may already be evidence, but they are detached from you;
    • your encrypted chat number is forgotten, and this conversation is erased as far as Telegram allows (48 hours).
    This cannot be undone.
delete-yes = Yes, delete my data
delete-no = No, keep it
delete-nothing = We hold no data about you.
delete-done = ✓ <b>Your data has been deleted.</b>
delete-drafts = { $count ->
        [one] Deleted: 1 unfinished report.
       *[other] Deleted: { $count } unfinished reports.
    }
delete-withdrawn = { $count ->
        [one] Withdrawn and erased: 1 report ({ $references }).
       *[other] Withdrawn and erased: { $count } reports ({ $references }).
    }
delete-kept = { $count ->
        [one] Kept: 1 report already under review ({ $references }). It may already be evidence in an investigation, so it cannot be removed; it is not linked to your name.
       *[other] Kept: { $count } reports already under review ({ $references }). They may already be evidence in an investigation, so they cannot be removed; they are not linked to your name.
    }
delete-remains = What remains: a record without content that your data was deleted (our log of who did what to evidence cannot be changed), and, in this chat, any messages older than 48 hours, which only you can delete. To use the bot again, send /start: you will start afresh, and nothing will link your new reports to the earlier ones.

## Follow-ups (reporter side)

status-reviewed = reviewed
mine-add-button = ➕ Add to { $reference }
mine-add-hint = <i>To add information or files to a report, press its “Add” button.</i>
adding-prompt = Send text, photos or files to add to report <code>{ $reference }</code>. Press “Done” when you have finished.
adding-saved = ✓ Added to <code>{ $reference }</code>. Send more, or press “Done”.
adding-finished = ✓ Thank you. Everything you sent was added to <code>{ $reference }</code>.
adding-done = ✅ Done
question-to-reporter =
    ❓ <b>A question about your report <code>{ $reference }</code></b>

    { $text }

    <i>Reply to this message to answer — with text, photos or files. Our team does not see who you are. If you would rather not answer, you don't have to.</i>
question-placeholder = Your answer
answer-thanks = ✓ Thank you — your answer about <code>{ $reference }</code> was passed on to the team.
answer-too-long = ⚠️ This answer is too long (up to { $limit } characters in one message). Please shorten it or send it in parts.
reviewed-notice = Your report <code>{ $reference }</code> has been reviewed. Thank you for sending it.

## Moderators (TIPBOT_MODERATOR_LANGUAGE)

mod-card-title = { $urgent }<b><code>{ $reference }</code></b> · { $category }
mod-card-statute = <i>Rome Statute: { $articles }</i>
mod-card-when = 📅 { $date }
mod-card-where = 📍 { $place }
mod-card-coords = 🧭 { $lat }, { $lon } · <a href="{ $osm }">OpenStreetMap</a> · { $precision }
mod-card-who = 👤 { $perpetrator }
mod-card-description = 📝 { $description }
mod-card-more = <i>… { $more } more characters: “Full text”.</i>
mod-card-media = 📎 { $summary }
mod-card-compressed = { $count ->
        [one] 1 compressed photo
       *[other] { $count } compressed photos
    }
mod-card-too-large = { $count ->
        [one] 1 too large to download
       *[other] { $count } too large to download
    }
mod-card-duplicates = 🔁 Possible duplicates: { $list }
mod-card-reporter = 🙋 Reporter <code>{ $pseudonym }</code> · earlier: { $earlier } · contact: { $contact }
mod-card-no-earlier = none
mod-card-banned = ⛔ <b>This reporter is banned</b>: their new reports are quarantined.
mod-card-withdrawn = ↩️ <b>Withdrawn by the reporter</b>; its content and files were erased at their request.
mod-card-status = <b>Status:</b> { $status } · <b>Assignee:</b> { $assignee }
mod-card-last = <i>Last: { $action } — { $actor }, { $when }</i>
mod-precision-point = approximate (a shared point)
mod-precision-settlement = settlement centre
mod-precision-text = as written
mod-precision-none = not given
mod-why-same_file = same file
mod-why-similar_image = similar image
mod-why-similar_context = same place and days
mod-status-draft = draft
mod-status-submitted = 🆕 new
mod-status-in_review = 👀 in review
mod-status-needs_info = ❓ waiting for the reporter
mod-status-verified = ✅ verified
mod-status-rejected = ❌ rejected
mod-status-rejected-because = ❌ rejected ({ $reason })
mod-status-duplicate = 🔁 duplicate
mod-status-duplicate-of = 🔁 duplicate of <code>{ $original }</code>
mod-status-withdrawn = ↩️ withdrawn
mod-status-quarantined = ⛔ quarantined
mod-reason-spam = Spam
mod-reason-not_relevant = Not relevant
mod-reason-not_enough_info = Not enough information
mod-reason-other = Other reason
mod-btn-media = 📎 Media ({ $count })
mod-btn-map = 🗺 Map
mod-btn-text = 📄 Full text
mod-btn-history = 📜 History
mod-btn-take = ✋ Take
mod-btn-release = ↩️ Release
mod-btn-urgent-on = 🚨 Urgent
mod-btn-urgent-off = 🔕 Not urgent
mod-btn-verify = ✅ Verified
mod-btn-reject = ❌ Reject…
mod-btn-duplicate = 🔁 Duplicate…
mod-btn-ask = ❓ Needs info
mod-btn-ban = ⛔ Ban reporter
mod-btn-unban = ✳️ Unban reporter
mod-btn-back = ◀️ Back
mod-btn-confirm = Yes, do it
mod-btn-type-reference = ⌨️ Type a reference
mod-btn-open = Open { $reference }
mod-btn-previous = ◀️ Previous
mod-btn-next = Next ▶️
mod-done-take = Taken.
mod-done-release = Released.
mod-done-urgent-on = Marked urgent.
mod-done-urgent-off = No longer urgent.
mod-done-verify = Marked verified.
mod-done-reject = Rejected.
mod-done-dup = { $reference } marked as a duplicate.
mod-done-ban = Reporter banned; their unreviewed reports are quarantined.
mod-done-unban = Reporter unbanned.
mod-conflict = Already handled by { $name }. The card now shows the current state.
mod-confirm-taken = { $name } has taken this report. Do it anyway?
mod-stale = This button is no longer active.
mod-not-allowed = Only members of the moderators' group can do this.
mod-refused-not-taken = Nobody has taken this report.
mod-refused-bad-reason = Unknown reason.
mod-refused-duplicate-of-itself = A report cannot duplicate itself.
mod-refused-duplicate-unknown = That report does not exist.
mod-refused-withdrawn = The reporter withdrew this report.
mod-refused-quarantined = This report is quarantined (the reporter is banned). Unban first.
mod-refused-already-banned = This reporter is already banned.
mod-refused-not-banned = This reporter is not banned.
mod-refused-unreachable = The reporter can no longer be reached (they deleted their data).
mod-age-minutes = { $count } min
mod-age-hours = { $count } h
mod-age-days = { $count } d
mod-line = { $urgent }<code>{ $reference }</code> · { $category } · 📍 { $place } · 📅 { $date } · { $age } · 📎{ $files } · “{ $words }”
mod-digest-title = 📥 <b>{ $count ->
        [one] 1 new report
       *[other] { $count } new reports
    }</b> — many are waiting ({ $waiting }), so they come in lists. Open one to see its card.
mod-opening = Posting the card of { $reference }…
mod-open-exists = The card of { $reference } is already in the chat. To post it again at the bottom, send /tip { $reference }.
mod-withdrawn-note = ↩️ The reporter withdrew <code>{ $reference }</code> and its content was erased.
mod-no-media = This report has no files.
mod-sending-media = Sending { $count ->
        [one] 1 file
       *[other] { $count } files
    }…
mod-media-caption = 📎 { $reference }
mod-no-location = This report has no point on the map.
mod-fulltext-title = 📄 <b>{ $reference }</b> — full text
mod-history-title = 📜 <b>History of { $reference }</b>
mod-history-line = { $when } · { $who } · { $what }
mod-history-reporter = reporter
mod-history-system = system
mod-action-consent = agreed to the terms
mod-action-draft_created = started the report
mod-action-file_received = file received
mod-action-submitted = submitted
mod-action-draft_deleted = draft deleted
mod-action-withdrawn = withdrawn
mod-action-erased = content erased
mod-action-data_deleted = reporter deleted their data
mod-action-reporter_detached = reporter's data deleted: their reports detached from them
mod-action-conversation_erased = reporter erased the conversation
mod-action-taken = taken
mod-action-released = released
mod-action-urgent_on = marked urgent
mod-action-urgent_off = no longer urgent
mod-action-verified = verified
mod-action-rejected = rejected
mod-action-duplicate = marked duplicate
mod-action-reporter_banned = reporter banned
mod-action-reporter_unbanned = reporter unbanned
mod-action-question_asked = question sent to the reporter
mod-action-answer_received = reporter answered
mod-action-information_added = reporter added information
mod-action-evidence_viewed = viewed { $view ->
    [media] the files
    [map] the map
    [metadata] the files' metadata
   *[text] the full text
}
mod-action-moderation_refused = refused a non-moderator
mod-card-notes = 🗒 { $count ->
        [one] 1 internal note
       *[other] { $count } internal notes
    } (in the History)
mod-card-metadata = 🛰 File metadata: capture time in { $timed }, GPS in { $placed }
mod-card-metadata-date-off = ⚠️ { $count ->
        [one] 1 file dated
       *[other] { $count } files dated
    } more than a day from the reported date
mod-card-metadata-place-off = ⚠️ { $count ->
        [one] 1 file located
       *[other] { $count } files located
    } over 25 km from the reported place
mod-btn-metadata = 🛰 Metadata
mod-btn-note = 📝 Note
mod-btn-undo = ↩️ Undo (1 min)
mod-btn-reopen = 🔓 Reopen…
mod-reopen-new_information = New information
mod-reopen-mistake = The verdict was a mistake
mod-reopen-other = Other reason
mod-done-undo = Undone ({ $verdict }): the report is back as it was; the reporter was not told.
mod-done-reopen = Reopened: the report is in review again.
mod-refused-undo-expired = The minute to undo has passed; use “Reopen…” with a reason.
mod-no-metadata = No file of this report carries a capture time or a position.
mod-note-prompt = 📝 Write an internal note on <code>{ $reference }</code> as a <b>reply to this message</b>. Only moderators see it: it is never sent to the reporter.
mod-note-placeholder = Internal note (moderators only)
mod-note-saved = 📝 Internal note saved on <code>{ $reference }</code> (only moderators see it).
mod-note-too-long = The note is too long (up to { $limit } characters).
mod-btn-keep-note = 📝 Keep as an internal note
mod-meta-title =
    🛰 <b>Metadata in the files of { $reference }</b>
    Reported: { $date } · { $place }
mod-meta-file = { $number }. { $kind } <i>{ $name }</i>
mod-meta-taken = 📅 taken { $when }
mod-meta-date-off = ⚠️ { $count ->
        [one] 1 day
       *[other] { $count } days
    } outside the reported date
mod-meta-gps = 🧭 <a href="{ $osm }">{ $lat }, { $lon }</a>
mod-meta-place-off = ⚠️ { $km } km from the reported place
mod-action-verdict_undone = verdict undone
mod-action-reopened = reopened
mod-action-note_added = internal note
mod-ask-prompt = ✍️ Write your question for the reporter of <code>{ $reference }</code> as a <b>reply to this message</b>. They will not see who asked.
mod-ask-placeholder = Question for the reporter
mod-ask-not-allowed = The reporter of { $reference } did not allow contact: no questions can be sent.
mod-ask-queued = ✓ The question will be sent to the reporter of <code>{ $reference }</code>; their answer will appear here.
mod-question-offer = What should become of this reply about <code>{ $reference }</code>? Send it to the reporter as a question (they will not see who asked), keep it as an internal note for the moderators, or neither.
mod-btn-send-question = ❓ Send to the reporter
mod-btn-keep-question = Don’t send
mod-question-kept = Not sent: the reply stays among the moderators.
mod-question-not-yours = Only the moderator who wrote this reply can send it.
mod-ask-too-long = The question is too long (up to { $limit } characters).
mod-reply-text-only = Please write the question as text.
mod-dup-prompt = 🔁 Which report is <code>{ $reference }</code> a duplicate of? <b>Reply to this message</b> with its reference.
mod-dup-placeholder = Reference, e.g. K7QM-4XHD
mod-dup-unknown = There is no report { $reference }.
mod-answer =
    💬 <b>Answer from the reporter</b> of <code>{ $reference }</code>:
    { $text }
mod-addition =
    ➕ <b>The reporter added information</b> to <code>{ $reference }</code>:
    { $text }
mod-queue-title = 📋 <b>Queue</b> — { $total } open (page { $page } of { $pages }); unassigned and urgent first, then oldest:
mod-queue-banned-title = ⛔ <b>Quarantined</b> (banned reporters) — { $total } (page { $page } of { $pages }):
mod-queue-empty = The queue is empty.
mod-queue-banned-empty = No quarantined reports.
mod-mine-title = 👤 <b>Assigned to you</b> ({ $count }):
mod-mine-empty = Nothing is assigned to you.
mod-tip-usage = Usage: <code>/tip K7QM-4XHD</code>
mod-tip-unknown = There is no report { $reference }.
mod-unbanned = ✓ Reporter of { $reference } unbanned; { $count } report(s) back in the queue.
mod-stats-title = 📊 <b>Reports</b>
mod-stats-status = <b>By status:</b>
mod-stats-category = <b>By category:</b>
mod-stats-oblast = <b>By oblast:</b>
mod-stats-day = <b>Last 14 days:</b>
mod-stats-undelivered = ⚠️ <b>Not delivered:</b> { $count } (Telegram refused them, even as plain text; see the log)
mod-help =
    <b>Moderating</b>
    New reports arrive here as cards — or, when many wait, as lists with an “Open” button for each. Buttons on a card: Media, Map, Full text and History show what the card leaves out (photos and videos behind a spoiler). Take / Release shows who works on a report; Verified, Reject… and Duplicate… decide it; Urgent moves it up the queue; Needs info asks the reporter a question (or just reply to the card); Ban reporter quarantines their reports silently.
    Note keeps an internal note for the moderators (never sent to the reporter). For a minute after a verdict, Undo takes it back — the reporter hears nothing before that minute is over; later, Reopen… opens the report again, with a reason. Metadata shows the capture time and GPS found in the files, flagged where they disagree with the report.
    Every action is recorded in the chain of custody with your name.

    /queue — open reports (<code>/queue banned</code> — quarantined ones)
    /mine — reports you have taken
    /tip K7QM-4XHD — post a report's card again
    /stats — numbers by status, category, oblast and day
    /unban K7QM-4XHD — lift a ban on that report's reporter

## Anchors (ANCHOR_CHAT_ID; in TIPBOT_MODERATOR_LANGUAGE)
anchor-message =
    🔗 <b>Chain of custody anchor</b> · { $org }
    Entry <b>{ $seq }</b> of our evidence log has the hash
    <code>{ $hash }</code>
    as of { $time } UTC.

    Each entry of the log carries the hash of the one before it, so this hash fixes every entry up to this one: none can later be changed, removed or reordered without the hashes no longer leading here. To check: recompute the chain from its first entry (<code>python3 verify.py</code> in an evidence bundle we hand over, or <code>tipbot verify</code> on our server) and compare entry { $seq } with this hash.
mod-action-anchored = custody log anchored in public
mod-action-timestamped = anchor timestamped by an authority

## Export (/export for ADMIN_IDS, in the admin's Telegram language; retention in the history)
adm-refused = Only the organisation's admins can export reports.
adm-private-only = Exports are made only in a private chat: please send /export to me directly.
adm-stale = This button is no longer active.
adm-choose-what =
    📦 <b>Export</b> — what do you need?
    <i>The evidence bundle (ZIP) holds the reports, their original files, the chain of custody and a verifier for investigators; the tables hold the reports only.</i>
adm-what-zip = 🧳 Evidence bundle (ZIP)
adm-what-csv = 📄 Table: CSV
adm-what-jsonl = 📄 Table: JSON Lines
adm-what-geojson = 🗺 Map: GeoJSON
adm-what-xlsx = 📊 Table: Excel (XLSX)
adm-choose-profile =
    <b>{ $what }</b> — for whom?
    <b>Investigators</b>: every field. <b>Public</b>: no descriptions, free text or pseudonyms, places no finer than the settlement, dates no finer than the day, and only verified reports unless you choose statuses.
adm-profile-investigator = 🔎 Investigators (every field)
adm-profile-public = 🌐 Public (redacted)
adm-public-verified = verified only (public profile)
adm-any = any
adm-period-all = all time
adm-period-days = { $days ->
        [one] the last day
       *[other] the last { $days } days
    }
adm-summary =
    📦 <b>{ $what }</b> · { $profile }
    <b>Statuses:</b> { $statuses }
    <b>Category:</b> { $category }
    <b>Oblast:</b> { $oblast }
    <b>Submitted:</b> { $period }

    { $count ->
        [0] No reports match these filters.
        [one] 1 report matches. Press “Start” to export it.
       *[other] { $count } reports match. Press “Start” to export them.
    }
adm-btn-statuses = Statuses…
adm-btn-category = Category…
adm-btn-oblast = Oblast…
adm-btn-period = Period…
adm-btn-start = ▶️ Start
adm-btn-back = ◀️ Back
adm-btn-cancel = ✖️ Cancel
adm-btn-any = Any
adm-btn-done = ✓ Done
adm-pick-statuses = Which statuses? Tap one to select or unselect it; none selected means any.
adm-pick-category = Which category?
adm-pick-oblast = Which oblast?
adm-pick-period = Submitted when?
adm-cancelled = Export cancelled.
adm-busy = Your previous export is still running. Please wait until it has finished.
adm-preparing = ⏳ Preparing the export…
adm-progress = ⏳ { $phase }: { $done } of { $total }
adm-progress-open = ⏳ { $phase }…
adm-phase-rows = Writing reports
adm-phase-tables = Writing the tables
adm-phase-tips = Copying reports and files
adm-phase-chain = Writing the chain of custody
adm-phase-timestamps = Requesting trusted timestamps
adm-phase-archive = Packing the archive
adm-phase-upload = Sending the file
adm-phase-working = Working
adm-none-match = No reports match these filters: nothing was exported.
adm-done = ✅ Export <code>{ $export_id }</code> is ready: the file is below.
adm-caption =
    Export <code>{ $export_id }</code> · reports: { $rows }
    SHA-256: <code>{ $sha256 }</code>
adm-caption-bundle =
    Evidence bundle <code>{ $export_id }</code> · reports: { $tips }, files: { $files }
    SHA-256: <code>{ $sha256 }</code>
adm-too-large =
    ⚠️ This export is larger than { $limit } MB, the most the bot can send through Telegram, so it was not sent (and not kept). Run the same export on the server:
    <code>{ $command }</code>
adm-failed =
    ❌ The export failed; nothing was sent. You can run it on the server instead:
    <code>{ $command }</code>
adm-send-failed =
    ❌ The file could not be sent through Telegram (and was not kept). Run the same export on the server:
    <code>{ $command }</code>
adm-interrupted = ⚠️ The export was interrupted because the bot is restarting. Please start it again with /export.
mod-action-export_refused = export refused to a non-admin
mod-action-export_discarded = export deleted without being delivered
mod-action-purged = content and files erased (retention period over)
