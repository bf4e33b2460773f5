"""The evidence bundle's data/README.txt (English, Ukrainian, Russian) and the descriptions
of the files' fields that data/schema.json carries.

The README is written for an investigator who has never heard of tipbot: what each file
holds, what each field means, and how to verify the bundle step by step with standard tools
(``sha256sum``/``shasum``, ``python3 data/verify.py``, ``openssl ts -verify``) and against
the organisation's public anchor messages. The table fields' English descriptions are
:data:`bot.export.rows.FIELD_DOCS`; their Ukrainian and Russian ones are here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.export.rows import FIELD_DOCS

#: tip.json, besides the table fields (data/schema.json "tip_json").
TIP_JSON_FIELDS: dict[str, str] = {
    "bundle_format": "The version of this bundle's layout (1).",
    "tip_id": "The tip's internal number; custody entries name it as 'tip'.",
    "reference": "The reference code (investigator profile; also the folder's name).",
    "profile": "investigator or public: which redactions apply.",
    "testimony": "What the reporter gave, exactly in the form whose digest the tip's "
    "'submitted' custody entry holds (details.record): reference, language, category, "
    "description, incident_date, incident_date_precision, incident_time, location_source, "
    "location_precision, lat, lon, place_text, settlement, settlement_id, oblast, "
    "perpetrator, perpetrator_text, contact_allowed. The record is the canonical JSON of "
    "these with 'record': 1 and 'files': the sorted [media_id, sha256] pairs of the files "
    "with origin 'report' (docs/custody.md); its SHA-256 is the digest. Dates are "
    "YYYY-MM-DD, times HH:MM:SS, lat and lon text with six decimals. The public profile "
    "keeps only its unredacted fields.",
    "files": "Every file the reporter sent for this tip (see 'file_fields').",
    "urgent": "Whether moderators marked the tip urgent.",
    "include_file_metadata": "Whether metadata read from the files (EXIF/XMP, GPS) is included.",
}

#: A file's entry in tip.json "files" and its row in files.csv ("tip" and "tip_id" added).
FILE_FIELDS: dict[str, str] = {
    "media_id": "The file's internal number; its 'file_received' custody entry names it.",
    "origin": "report (sent with the report), answer (to a question) or addition.",
    "kind": "photo, video, document, voice, audio, video_note or animation.",
    "status": "stored, too_large (over the download limit) or failed.",
    "sha256": "SHA-256 of the original bytes, computed as they arrived.",
    "size": "Size in bytes.",
    "detected_mime": "The type the bytes show (not what the sender declared).",
    "declared_mime": "The type the sender's app declared.",
    "file_name": "The file name as sent (may be empty).",
    "recompressed": "true for a photo Telegram recompressed (not the camera's original; "
    "its metadata is gone).",
    "width": "Pixels, for images and videos.",
    "height": "Pixels, for images and videos.",
    "duration": "Seconds, for video and audio.",
    "media_group_id": "Files sent as one album share it.",
    "caption": "The caption the reporter wrote (tip.json only).",
    "forward_origin": "Where a forwarded message came from, as Telegram said (tip.json only).",
    "telegram_date": "When Telegram says the message was sent (UTC).",
    "received_at": "When tipbot received and hashed the file (UTC).",
    "path": "The file in this bundle: data/tips/<tip>/files/<sha256>.<extension>; empty when "
    "no original is included.",
    "problem": "Why no original is included (not stored, erased, missing or altered in the "
    "store at bundling time).",
    "metadata": "Metadata read from the file (EXIF/XMP, may include GPS); only with "
    "--include-file-metadata.",
    "tip": "files.csv: the tip's folder name (its reference).",
    "tip_id": "files.csv: the tip's internal number.",
}

#: A line of data/tips/<tip>/updates.jsonl.
UPDATE_FIELDS: dict[str, str] = {
    "note_id": "The note's number; the answer's or addition's custody entry names it.",
    "kind": "question (a moderator's), answer or addition (the reporter's).",
    "time": "When it was written (UTC).",
    "text": "Its text (empty for a file alone).",
    "media_id": "The file sent with it, if any.",
    "file_sha256": "That file's SHA-256.",
    "file_path": "That file in this bundle.",
    "moderator": "For a question: the moderator's display name.",
}

#: A line of data/custody/chain.jsonl (docs/custody.md specifies the hashing).
CHAIN_FIELDS: dict[str, str] = {
    "v": "The entry's format: 1 (hash over the whole entry) or 2 (hash over a body digest).",
    "seq": "Its position in the chain, from 1.",
    "time": "When it was appended (UTC, microseconds).",
    "actor": "Who acted: system, reporter:<pseudonym>, moderator:<id>, cli:<user>, ...",
    "action": "What happened: submitted, file_received, verified, exported, anchored, ...",
    "tip": "The tip it concerns (tip_id), or null.",
    "details": "Ids, hashes, counts and codes (never a reporter's words or places).",
    "prev_hash": "The previous entry's hash (64 zeros for the first).",
    "body_digest": "Format 2: SHA-256 of the canonical JSON of time, actor, action, tip and "
    "details.",
    "hash": "Format 2: SHA-256 of 'tipbot-custody-v2:<seq>:<prev_hash>:<body_digest>'.",
    "redacted": "true when the body is left out (another tip's entry): only seq, prev_hash, "
    "body_digest and hash remain, and the links still verify.",
}

_UK_FIELDS: dict[str, str] = {
    "id": "Внутрішній номер повідомлення; стабільний, заявнику невідомий.",
    "reference": "Код-посилання, який отримав заявник (напр. K7QM-4XHD).",
    "status": "submitted, in_review, needs_info, verified, rejected, duplicate, quarantined "
    "(повідомлення заблокованого заявника) або withdrawn (відкликане; зміст стерто).",
    "submitted_at": "Коли заявник надіслав повідомлення (UTC).",
    "submitted_date": "День надсилання (UTC).",
    "reviewed_at": "Коли модератор ухвалив рішення (UTC).",
    "reviewed_date": "День рішення модератора (UTC).",
    "decided_by": "Ім'я модератора, який ухвалив рішення.",
    "reject_reason": "Причина відхилення: spam, not_relevant, not_enough_info або other.",
    "duplicate_of": "Для дубліката: код повідомлення, яке він повторює.",
    "duplicate_of_id": "Для дубліката: номер повідомлення, яке він повторює.",
    "category": "Код категорії події, обраної заявником (див. таблицю категорій).",
    "rome_statute": "Статті Римського статуту, пов'язані з категорією.",
    "perpetrator": "Хто, на думку заявника, відповідальний: unknown, код сторони або other.",
    "perpetrator_text": "Слова заявника про виконавців (форма, розпізнавальні знаки).",
    "description": "Що сталося, словами заявника.",
    "incident_date": "Дата події, як її вказав заявник (1-ше число, якщо відомий лише місяць).",
    "incident_date_precision": "day, month або unknown.",
    "incident_time": "Час події, якщо вказаний.",
    "place_text": "Місце, як його написав заявник, або підпис надісланої точки.",
    "settlement": "Населений пункт (українською): обраний або найближчий до точки.",
    "settlement_id": "Ідентифікатор населеного пункту в GeoNames.",
    "settlement_distance_km": "Для точки: відстань до цього населеного пункту, км.",
    "oblast": "Код області GeoNames (01-27).",
    "oblast_name": "Назва області англійською.",
    "lat": "Широта (WGS 84): надіслана точка або центр обраного населеного пункту.",
    "lon": "Довгота (WGS 84): надіслана точка або центр обраного населеного пункту.",
    "settlement_lat": "Широта центру населеного пункту (з довідника), не точка заявника.",
    "settlement_lon": "Довгота центру населеного пункту (з довідника), не точка заявника.",
    "location_precision": "point, settlement, text (введено, не розпізнано) або none.",
    "location_source": "shared_point, typed_place або none.",
    "contact_allowed": "Чи дозволив заявник додаткові запитання.",
    "language": "Мова, якою заявник користувався (uk, ru, en).",
    "media_count": "Скільки файлів збережено (оригінали, хешовані при отриманні).",
    "media_not_stored": "Файли, які не вдалося зберегти (завеликі, помилка).",
    "media_sha256": "SHA-256 кожного збереженого оригіналу.",
    "duplicate_links": "Можливі дублікати, знайдені автоматично (вид:код).",
    "questions": "Запитання модераторів заявнику.",
    "answers": "Відповіді заявника.",
    "additions": "Інформація, яку заявник додав пізніше.",
    "reporter": "Псевдонім заявника (ключовий хеш; ніколи не Telegram id).",
    "purged_at": "Коли зміст і оригінали стерто за правилами зберігання.",
}

_RU_FIELDS: dict[str, str] = {
    "id": "Внутренний номер сообщения; стабилен, заявителю неизвестен.",
    "reference": "Код-ссылка, который получил заявитель (напр. K7QM-4XHD).",
    "status": "submitted, in_review, needs_info, verified, rejected, duplicate, quarantined "
    "(сообщение заблокированного заявителя) или withdrawn (отозвано; содержание стёрто).",
    "submitted_at": "Когда заявитель отправил сообщение (UTC).",
    "submitted_date": "День отправки (UTC).",
    "reviewed_at": "Когда модератор принял решение (UTC).",
    "reviewed_date": "День решения модератора (UTC).",
    "decided_by": "Имя модератора, принявшего решение.",
    "reject_reason": "Причина отклонения: spam, not_relevant, not_enough_info или other.",
    "duplicate_of": "Для дубликата: код сообщения, которое он повторяет.",
    "duplicate_of_id": "Для дубликата: номер сообщения, которое он повторяет.",
    "category": "Код категории события, выбранной заявителем (см. таблицу категорий).",
    "rome_statute": "Статьи Римского статута, связанные с категорией.",
    "perpetrator": "Кто, по словам заявителя, ответственен: unknown, код стороны или other.",
    "perpetrator_text": "Слова заявителя об исполнителях (форма, опознавательные знаки).",
    "description": "Что произошло, словами заявителя.",
    "incident_date": "Дата события, как её указал заявитель (1-е число, если известен месяц).",
    "incident_date_precision": "day, month или unknown.",
    "incident_time": "Время события, если указано.",
    "place_text": "Место, как его написал заявитель, или подпись отправленной точки.",
    "settlement": "Населённый пункт (по-украински): выбранный или ближайший к точке.",
    "settlement_id": "Идентификатор населённого пункта в GeoNames.",
    "settlement_distance_km": "Для точки: расстояние до этого населённого пункта, км.",
    "oblast": "Код области GeoNames (01-27).",
    "oblast_name": "Название области по-английски.",
    "lat": "Широта (WGS 84): отправленная точка или центр выбранного населённого пункта.",
    "lon": "Долгота (WGS 84): отправленная точка или центр выбранного населённого пункта.",
    "settlement_lat": "Широта центра населённого пункта (из справочника), не точка заявителя.",
    "settlement_lon": "Долгота центра населённого пункта (из справочника), не точка заявителя.",
    "location_precision": "point, settlement, text (введено, не распознано) или none.",
    "location_source": "shared_point, typed_place или none.",
    "contact_allowed": "Разрешил ли заявитель дополнительные вопросы.",
    "language": "Язык, которым пользовался заявитель (uk, ru, en).",
    "media_count": "Сколько файлов сохранено (оригиналы, хешированные при получении).",
    "media_not_stored": "Файлы, которые не удалось сохранить (слишком большие, ошибка).",
    "media_sha256": "SHA-256 каждого сохранённого оригинала.",
    "duplicate_links": "Возможные дубликаты, найденные автоматически (вид:код).",
    "questions": "Вопросы модераторов заявителю.",
    "answers": "Ответы заявителя.",
    "additions": "Информация, которую заявитель добавил позже.",
    "reporter": "Псевдоним заявителя (ключевой хеш; никогда не Telegram id).",
    "purged_at": "Когда содержание и оригиналы стёрты по правилам хранения.",
}

_EN = """\
EVIDENCE BUNDLE — {org}
=====================================================================

Export id: {export_id}     Created: {created}     Profile: {profile}
Tips: {tips}     Original files: {files}
Custody chain head in this bundle: entry {head_seq}, hash
  {head_hash}

This folder is a BagIt 1.0 bag (RFC 8493), the packaging format archives use. It was
written by tipbot, a Telegram bot through which civilians report war crimes. You can check
everything in it yourself, with standard tools and without trusting the organisation.

1. WHAT IS IN THE BUNDLE
------------------------
bagit.txt              Declares a BagIt 1.0 bag with UTF-8 tag files.
bag-info.txt           Source-Organization, External-Identifier (the export id),
                       Bagging-Date, Payload-Oxum (bytes.files in data/), Bag-Software-Agent.
manifest-sha256.txt    SHA-256 of every file under data/, one "DIGEST  PATH" per line.
manifest-sha512.txt    The same with SHA-512.
tagmanifest-sha256.txt SHA-256 of every file outside data/ (the manifests, timestamps/).
timestamps/tokens.jsonl  RFC 3161 timestamp tokens over manifest-sha256.txt, one line per
                       authority: file (.tsr, the authority's DER reply), chain (.pem, its
                       certificates up to its root), tsa_url, gen_time, serial, digest
                       (SHA-256 of manifest-sha256.txt), verify (the openssl command).
                       An authority that failed is listed with its error.
timestamps/anchors.jsonl The chain heads the organisation published ("anchors"): anchor_id,
                       seq, hash, chat_id and message_id of the public message,
                       message_date, and the tokens over that hash (anchor-<id>-<n>.tsr/.pem).
data/README.txt        This file.
data/verify.py         The verifier: standard-library Python 3.9 or newer, nothing to install.
data/export.json       export_id, created_at, tipbot_version, organisation, actor (the admin
                       who made it), profile, filters, submitted_before, redactions,
                       include_file_metadata, counts, chain_head, problems (originals that
                       could not be included, and why), custody_note.
data/schema.json       Every field of every file, the incident categories with their Rome
                       Statute references, the perpetrator codes.
data/tips.csv          One row per tip (UTF-8, ISO 8601 UTC times, lists joined with "|";
                       a cell starting with = + - @ tab or CR has a leading apostrophe).
data/tips.jsonl        The same rows as JSON, one per line.
data/tips.geojson      The same as an RFC 7946 FeatureCollection (longitude first); tips
                       without a point are left out (counted in export.json).
data/files.csv         One row per file of the bundled tips: see "file fields" below.
data/custody/chain.jsonl  The chain-of-custody log from its first entry to its head. Entries
                       of the bundled tips are complete; other tips' entries are redacted to
                       seq, prev_hash, body_digest and hash, which still link the chain.
data/tips/<tip>/tip.json       The tip: its testimony, its files and its status.
data/tips/<tip>/updates.jsonl  Moderators' questions, the reporter's answers and additions.
data/tips/<tip>/files/<sha256>.<ext>  The originals, byte for byte as received, named by
                       their SHA-256 (two files with the same name never collide; a file
                       sent to two tips is under each).
{profile_note}
2. FIELDS
---------
Tables (tips.csv, tips.jsonl, tips.geojson properties), in column order:
{table_fields}
tip.json:
{tip_fields}
  The other keys of tip.json are the tip's table fields above.

File fields (tip.json "files", files.csv):
{file_fields}
updates.jsonl:
{update_fields}
chain.jsonl:
{chain_fields}
3. HOW TO VERIFY, STEP BY STEP
------------------------------
Open a terminal in the bundle's top folder (the one holding bagit.txt).

Step 1. Nothing changed, nothing missing. Check every file against the manifests:
    Linux:   sha256sum -c manifest-sha256.txt && sha256sum -c tagmanifest-sha256.txt
    macOS:   shasum -a 256 -c manifest-sha256.txt && shasum -a 256 -c tagmanifest-sha256.txt
    (and sha512sum -c manifest-sha512.txt, or shasum -a 512 -c, for the second digest)
  Every line must say OK. These tools do not notice an ADDED file; step 2 does.

Step 2. Run the verifier (Python 3.9+, no installation, no network):
    python3 data/verify.py
  It checks bagit.txt, Payload-Oxum, every line of both manifests and the tag manifest
  (changed, missing and unlisted files, by name), the custody chain from genesis (every
  link, every complete entry's body digest), each file against the 'file_received' entry
  recorded when it arrived (its SHA-256), each tip.json against the digest in its
  'submitted' entry, each answer and addition against its entry, the anchors against the
  chain, and the timestamp tokens (with openssl, if installed). It prints one line per check
  (OK, NOTE or FAILED) and ends with "RESULT: OK" (exit status 0) or "RESULT: FAILED
  (n problems)" (exit status 1). It also accepts a path: python3 verify.py BUNDLE_OR_ZIP.

Step 3. Trusted timestamps. Each line of timestamps/tokens.jsonl has a "verify" field with
  the exact command; for the first authority it is of this form:
    openssl ts -verify -digest $(sha256sum manifest-sha256.txt | cut -d" " -f1) \\
        -in timestamps/manifest-1.tsr -CAfile timestamps/manifest-1.pem
  (macOS: shasum -a 256 instead of sha256sum). "Verification: OK" proves that this
  manifest — and so every file it lists — existed at the token's time. See that time with
    openssl ts -reply -in timestamps/manifest-1.tsr -text
  The .pem file comes with the bundle, so also check that its last certificate is the
  authority's real root: compare its fingerprint
    openssl x509 -in timestamps/manifest-1.pem -noout -fingerprint -sha256
  with the one the authority publishes, or verify with your own copy of the root:
    ... -CAfile YOUR_ROOT.pem -untrusted timestamps/manifest-1.pem
  An old token whose certificate has expired since: add -attime with the token's time in
  seconds since 1970 (the "verify" command does this).

Step 4. Compare the custody head with the public anchors. The organisation publishes the
  chain's head (entry number and hash) in a public Telegram channel at intervals. The last
  line of data/custody/chain.jsonl (and the verifier's NOTE line) gives this bundle's head:
  entry {head_seq}, hash {head_hash}.
  timestamps/anchors.jsonl lists the published anchors up to that head with chat_id and
  message_id: open those messages in the channel and check that each shows the same entry
  number and hash; the verifier checked that the chain holds each of these hashes at its
  entry number. For an anchor, find its entry with
    grep '"seq":NUMBER,' data/custody/chain.jsonl
  An anchor's tokens are checked like the manifest's, with -digest set to the anchor's hash.
  A chain that was rewritten after an anchor cannot still show the anchor's hash.

Step 5. The bundle's own record. Making this bundle appended a 'bundle_exported' entry
  after entry {head_seq} (so it is not in this bundle's chain): it holds the export id
  {export_id}, the SHA-256 of manifest-sha256.txt and of the ZIP or .age file. Any later
  anchor covers it; ask the organisation for a later bundle or anchor to see it.

A NOTE line from the verifier is not a failure: it says what could not be checked and why
(for example testimony redacted by the public profile).
"""

_UK = """\
ПАКЕТ ДОКАЗІВ — {org}
=====================================================================

Ідентифікатор експорту: {export_id}     Створено: {created}     Профіль: {profile}
Повідомлень: {tips}     Оригінальних файлів: {files}
Вершина журналу зберігання в цьому пакеті: запис {head_seq}, хеш
  {head_hash}

Ця тека — пакет BagIt 1.0 (RFC 8493), формат пакування, яким користуються архіви. Його
створив tipbot — Telegram-бот, через який цивільні повідомляють про воєнні злочини. Усе в
ньому можна перевірити самостійно, стандартними засобами, не довіряючи організації.

1. ЩО В ПАКЕТІ
--------------
bagit.txt              Оголошує пакет BagIt 1.0 зі службовими файлами в UTF-8.
bag-info.txt           Source-Organization, External-Identifier (ідентифікатор експорту),
                       Bagging-Date, Payload-Oxum (байти.файли в data/), Bag-Software-Agent.
manifest-sha256.txt    SHA-256 кожного файлу в data/, по рядку "ХЕШ  ШЛЯХ".
manifest-sha512.txt    Те саме з SHA-512.
tagmanifest-sha256.txt SHA-256 кожного файлу поза data/ (маніфести, timestamps/).
timestamps/tokens.jsonl  Позначки часу RFC 3161 над manifest-sha256.txt, по рядку на центр
                       позначок часу: file (.tsr, DER-відповідь центру), chain (.pem, його
                       сертифікати до кореневого), tsa_url, gen_time, serial, digest
                       (SHA-256 файлу manifest-sha256.txt), verify (команда openssl).
                       Центр, що не відповів, указано з помилкою.
timestamps/anchors.jsonl Вершини журналу, які організація опублікувала ("якорі"): anchor_id,
                       seq, hash, chat_id і message_id публічного повідомлення, message_date,
                       позначки часу над цим хешем (anchor-<id>-<n>.tsr/.pem).
data/README.txt        Цей файл.
data/verify.py         Перевіряльник: Python 3.9 або новіший, лише стандартна бібліотека.
data/export.json       export_id, created_at, tipbot_version, organisation, actor
                       (адміністратор, який створив пакет), profile, filters,
                       submitted_before, redactions, include_file_metadata, counts,
                       chain_head, problems (оригінали, які не ввійшли, і чому), custody_note.
data/schema.json       Усі поля всіх файлів, категорії подій зі статтями Римського статуту,
                       коди сторін.
data/tips.csv          Рядок на повідомлення (UTF-8, час ISO 8601 UTC, списки через "|";
                       перед коміркою, що починається з = + - @ табуляції чи CR, стоїть
                       апостроф).
data/tips.jsonl        Ті самі рядки як JSON, по одному в рядку.
data/tips.geojson      Те саме як FeatureCollection RFC 7946 (спершу довгота); повідомлення
                       без точки пропущено (їх кількість — в export.json).
data/files.csv         Рядок на кожен файл повідомлень пакета: див. "поля файлів" нижче.
data/custody/chain.jsonl  Журнал ланцюга зберігання від першого запису до вершини. Записи
                       повідомлень пакета повні; записи інших повідомлень скорочено до seq,
                       prev_hash, body_digest і hash — ланцюг і так перевіряється.
data/tips/<код>/tip.json       Повідомлення: свідчення, файли, статус.
data/tips/<код>/updates.jsonl  Запитання модераторів, відповіді й доповнення заявника.
data/tips/<код>/files/<sha256>.<розш>  Оригінали, байт у байт як отримано, названі за
                       SHA-256 (однакові назви файлів не конфліктують; файл, надісланий до
                       двох повідомлень, є в кожному).
{profile_note}
2. ПОЛЯ
-------
Таблиці (tips.csv, tips.jsonl, властивості tips.geojson), у порядку стовпців:
{table_fields}
tip.json (англійські описи — у schema.json):
  testimony — те, що дав заявник, саме в тій формі, дайджест якої містить запис
  'submitted' (details.record): дати YYYY-MM-DD, час HH:MM:SS, lat і lon текстом із шістьма
  знаками після коми; files — усі файли повідомлення; tip_id — номер, яким записи журналу
  називають повідомлення ('tip'); решта ключів — поля таблиці вище.

Поля файлів (tip.json "files", files.csv): media_id (номер; його називає запис
  'file_received'), origin (report — із повідомленням, answer — відповідь, addition —
  доповнення), kind, status (stored, too_large, failed), sha256 (обчислено під час
  отримання), size, detected_mime (тип за вмістом), declared_mime, file_name, recompressed
  (true — фото, перестиснуте Telegram, без метаданих оригіналу), width, height, duration,
  media_group_id (альбом), caption, forward_origin, telegram_date, received_at, path (файл
  у пакеті; порожній, якщо оригінал не включено), problem (чому не включено), metadata
  (EXIF/XMP, можливо GPS — лише з --include-file-metadata).

updates.jsonl: note_id, kind (question, answer, addition), time, text, media_id,
  file_sha256, file_path, moderator (для запитань).

chain.jsonl: v (формат 1 або 2), seq, time, actor, action, tip, details, prev_hash,
  body_digest (SHA-256 канонічного JSON полів time, actor, action, tip, details), hash
  (SHA-256 рядка 'tipbot-custody-v2:<seq>:<prev_hash>:<body_digest>'), redacted (true —
  тіло запису пропущено).

3. ЯК ПЕРЕВІРИТИ, КРОК ЗА КРОКОМ
--------------------------------
Відкрийте термінал у верхній теці пакета (де лежить bagit.txt).

Крок 1. Нічого не змінено і не втрачено. Перевірте кожен файл за маніфестами:
    Linux:   sha256sum -c manifest-sha256.txt && sha256sum -c tagmanifest-sha256.txt
    macOS:   shasum -a 256 -c manifest-sha256.txt && shasum -a 256 -c tagmanifest-sha256.txt
    (і sha512sum -c manifest-sha512.txt або shasum -a 512 -c для другого дайджесту)
  Кожен рядок має закінчуватися OK. ДОДАНОГО файлу ці засоби не помічають; крок 2 помічає.

Крок 2. Запустіть перевіряльник (Python 3.9+, без встановлення, без мережі):
    python3 data/verify.py
  Він перевіряє bagit.txt, Payload-Oxum, кожен рядок обох маніфестів і службового
  маніфесту (змінені, відсутні й незаявлені файли — поіменно), ланцюг журналу від початку
  (кожен зв'язок, дайджест кожного повного запису), кожен файл за записом 'file_received',
  зробленим під час його отримання (SHA-256), кожен tip.json за дайджестом у записі
  'submitted', кожну відповідь і доповнення — за їхніми записами, якорі — за ланцюгом,
  позначки часу — через openssl, якщо він є. Друкує рядок на перевірку (OK, NOTE або
  FAILED) і завершує "RESULT: OK" (код виходу 0) або "RESULT: FAILED (n problems)"
  (код 1). Можна вказати шлях: python3 verify.py ПАКЕТ_АБО_ZIP.

Крок 3. Позначки часу. У кожному рядку timestamps/tokens.jsonl поле "verify" містить точну
  команду; для першого центру вона такого вигляду:
    openssl ts -verify -digest $(sha256sum manifest-sha256.txt | cut -d" " -f1) \\
        -in timestamps/manifest-1.tsr -CAfile timestamps/manifest-1.pem
  (macOS: shasum -a 256 замість sha256sum). "Verification: OK" доводить, що цей маніфест,
  а отже кожен файл у ньому, існував на час позначки. Час видно так:
    openssl ts -reply -in timestamps/manifest-1.tsr -text
  Файл .pem прийшов разом із пакетом, тож перевірте, що його останній сертифікат —
  справжній кореневий сертифікат центру: порівняйте відбиток
    openssl x509 -in timestamps/manifest-1.pem -noout -fingerprint -sha256
  з опублікованим центром або перевірте з власною копією кореневого:
    ... -CAfile ВАШ_КОРЕНЕВИЙ.pem -untrusted timestamps/manifest-1.pem
  Для старої позначки з уже простроченим сертифікатом додайте -attime з часом позначки в
  секундах від 1970 року (команда "verify" це робить).

Крок 4. Порівняйте вершину журналу з публічними якорями. Організація час від часу публікує
  вершину ланцюга (номер запису і хеш) у публічному Telegram-каналі. Останній рядок
  data/custody/chain.jsonl (і рядок NOTE перевіряльника) дає вершину цього пакета:
  запис {head_seq}, хеш {head_hash}.
  timestamps/anchors.jsonl перелічує опубліковані якорі до цієї вершини з chat_id і
  message_id: відкрийте ці повідомлення в каналі й переконайтеся, що в кожному той самий
  номер запису й хеш; перевіряльник уже перевірив, що ланцюг містить кожен із цих хешів під
  його номером. Запис якоря можна знайти так:
    grep '"seq":НОМЕР,' data/custody/chain.jsonl
  Позначки часу якоря перевіряються як позначки маніфесту, з -digest, що дорівнює хешу
  якоря. Ланцюг, переписаний після якоря, не може містити хеш якоря.

Крок 5. Запис про сам пакет. Створення пакета додало запис 'bundle_exported' після запису
  {head_seq} (тому його немає в ланцюгу цього пакета): у ньому ідентифікатор експорту
  {export_id}, SHA-256 файлу manifest-sha256.txt і файлу ZIP або .age. Його покриває
  кожен наступний якір; попросіть в організації пізніший пакет або якір.

Рядок NOTE — не помилка: він пояснює, що не вдалося перевірити і чому (наприклад,
свідчення приховано публічним профілем).
"""

_RU = """\
ПАКЕТ ДОКАЗАТЕЛЬСТВ — {org}
=====================================================================

Идентификатор экспорта: {export_id}     Создан: {created}     Профиль: {profile}
Сообщений: {tips}     Оригинальных файлов: {files}
Вершина журнала хранения в этом пакете: запись {head_seq}, хеш
  {head_hash}

Эта папка — пакет BagIt 1.0 (RFC 8493), формат упаковки, которым пользуются архивы. Его
создал tipbot — Telegram-бот, через который гражданские сообщают о военных преступлениях.
Всё в нём можно проверить самостоятельно, стандартными средствами, не доверяя организации.

1. ЧТО В ПАКЕТЕ
---------------
bagit.txt              Объявляет пакет BagIt 1.0 со служебными файлами в UTF-8.
bag-info.txt           Source-Organization, External-Identifier (идентификатор экспорта),
                       Bagging-Date, Payload-Oxum (байты.файлы в data/), Bag-Software-Agent.
manifest-sha256.txt    SHA-256 каждого файла в data/, по строке "ХЕШ  ПУТЬ".
manifest-sha512.txt    То же с SHA-512.
tagmanifest-sha256.txt SHA-256 каждого файла вне data/ (манифесты, timestamps/).
timestamps/tokens.jsonl  Метки времени RFC 3161 над manifest-sha256.txt, по строке на центр
                       меток времени: file (.tsr, DER-ответ центра), chain (.pem, его
                       сертификаты до корневого), tsa_url, gen_time, serial, digest
                       (SHA-256 файла manifest-sha256.txt), verify (команда openssl).
                       Не ответивший центр указан с ошибкой.
timestamps/anchors.jsonl Вершины журнала, опубликованные организацией ("якоря"): anchor_id,
                       seq, hash, chat_id и message_id публичного сообщения, message_date,
                       метки времени над этим хешем (anchor-<id>-<n>.tsr/.pem).
data/README.txt        Этот файл.
data/verify.py         Проверяющая программа: Python 3.9 или новее, только стандартная
                       библиотека.
data/export.json       export_id, created_at, tipbot_version, organisation, actor
                       (администратор, создавший пакет), profile, filters,
                       submitted_before, redactions, include_file_metadata, counts,
                       chain_head, problems (оригиналы, которые не вошли, и почему),
                       custody_note.
data/schema.json       Все поля всех файлов, категории событий со статьями Римского
                       статута, коды сторон.
data/tips.csv          Строка на сообщение (UTF-8, время ISO 8601 UTC, списки через "|";
                       перед ячейкой, начинающейся с = + - @ табуляции или CR, стоит
                       апостроф).
data/tips.jsonl        Те же строки как JSON, по одной в строке.
data/tips.geojson      То же как FeatureCollection RFC 7946 (сначала долгота); сообщения
                       без точки пропущены (их число — в export.json).
data/files.csv         Строка на каждый файл сообщений пакета: см. "поля файлов" ниже.
data/custody/chain.jsonl  Журнал цепочки хранения от первой записи до вершины. Записи
                       сообщений пакета полные; записи других сообщений сокращены до seq,
                       prev_hash, body_digest и hash — цепочка всё равно проверяется.
data/tips/<код>/tip.json       Сообщение: показания, файлы, статус.
data/tips/<код>/updates.jsonl  Вопросы модераторов, ответы и дополнения заявителя.
data/tips/<код>/files/<sha256>.<расш>  Оригиналы, байт в байт как получены, названные по
                       SHA-256 (одинаковые имена файлов не конфликтуют; файл, отправленный
                       к двум сообщениям, есть в каждом).
{profile_note}
2. ПОЛЯ
-------
Таблицы (tips.csv, tips.jsonl, свойства tips.geojson), в порядке столбцов:
{table_fields}
tip.json (английские описания — в schema.json):
  testimony — то, что дал заявитель, именно в той форме, дайджест которой содержит запись
  'submitted' (details.record): даты YYYY-MM-DD, время HH:MM:SS, lat и lon текстом с шестью
  знаками после запятой; files — все файлы сообщения; tip_id — номер, которым записи
  журнала называют сообщение ('tip'); остальные ключи — поля таблицы выше.

Поля файлов (tip.json "files", files.csv): media_id (номер; его называет запись
  'file_received'), origin (report — с сообщением, answer — ответ, addition —
  дополнение), kind, status (stored, too_large, failed), sha256 (вычислен при получении),
  size, detected_mime (тип по содержимому), declared_mime, file_name, recompressed
  (true — фото, пережатое Telegram, без метаданных оригинала), width, height, duration,
  media_group_id (альбом), caption, forward_origin, telegram_date, received_at, path (файл
  в пакете; пуст, если оригинал не включён), problem (почему не включён), metadata
  (EXIF/XMP, возможно GPS — только с --include-file-metadata).

updates.jsonl: note_id, kind (question, answer, addition), time, text, media_id,
  file_sha256, file_path, moderator (для вопросов).

chain.jsonl: v (формат 1 или 2), seq, time, actor, action, tip, details, prev_hash,
  body_digest (SHA-256 канонического JSON полей time, actor, action, tip, details), hash
  (SHA-256 строки 'tipbot-custody-v2:<seq>:<prev_hash>:<body_digest>'), redacted (true —
  тело записи пропущено).

3. КАК ПРОВЕРИТЬ, ШАГ ЗА ШАГОМ
------------------------------
Откройте терминал в верхней папке пакета (где лежит bagit.txt).

Шаг 1. Ничего не изменено и не потеряно. Проверьте каждый файл по манифестам:
    Linux:   sha256sum -c manifest-sha256.txt && sha256sum -c tagmanifest-sha256.txt
    macOS:   shasum -a 256 -c manifest-sha256.txt && shasum -a 256 -c tagmanifest-sha256.txt
    (и sha512sum -c manifest-sha512.txt или shasum -a 512 -c для второго дайджеста)
  Каждая строка должна заканчиваться на OK. ДОБАВЛЕННЫЙ файл эти средства не замечают;
  шаг 2 замечает.

Шаг 2. Запустите проверку (Python 3.9+, без установки, без сети):
    python3 data/verify.py
  Она проверяет bagit.txt, Payload-Oxum, каждую строку обоих манифестов и служебного
  манифеста (изменённые, отсутствующие и незаявленные файлы — поимённо), цепочку журнала с
  начала (каждую связь, дайджест каждой полной записи), каждый файл по записи
  'file_received', сделанной при его получении (SHA-256), каждый tip.json по дайджесту в
  записи 'submitted', каждый ответ и дополнение — по их записям, якоря — по цепочке, метки
  времени — через openssl, если он установлен. Печатает строку на проверку (OK, NOTE или
  FAILED) и завершает "RESULT: OK" (код выхода 0) или "RESULT: FAILED (n problems)"
  (код 1). Можно указать путь: python3 verify.py ПАКЕТ_ИЛИ_ZIP.

Шаг 3. Метки времени. В каждой строке timestamps/tokens.jsonl поле "verify" содержит
  точную команду; для первого центра она такого вида:
    openssl ts -verify -digest $(sha256sum manifest-sha256.txt | cut -d" " -f1) \\
        -in timestamps/manifest-1.tsr -CAfile timestamps/manifest-1.pem
  (macOS: shasum -a 256 вместо sha256sum). "Verification: OK" доказывает, что этот
  манифест, а значит каждый файл в нём, существовал на время метки. Время видно так:
    openssl ts -reply -in timestamps/manifest-1.tsr -text
  Файл .pem пришёл вместе с пакетом, поэтому проверьте, что его последний сертификат —
  настоящий корневой сертификат центра: сравните отпечаток
    openssl x509 -in timestamps/manifest-1.pem -noout -fingerprint -sha256
  с опубликованным центром или проверьте с собственной копией корневого:
    ... -CAfile ВАШ_КОРНЕВОЙ.pem -untrusted timestamps/manifest-1.pem
  Для старой метки с уже истёкшим сертификатом добавьте -attime со временем метки в
  секундах с 1970 года (команда "verify" это делает).

Шаг 4. Сравните вершину журнала с публичными якорями. Организация время от времени
  публикует вершину цепочки (номер записи и хеш) в публичном Telegram-канале. Последняя
  строка data/custody/chain.jsonl (и строка NOTE проверки) даёт вершину этого пакета:
  запись {head_seq}, хеш {head_hash}.
  timestamps/anchors.jsonl перечисляет опубликованные якоря до этой вершины с chat_id и
  message_id: откройте эти сообщения в канале и убедитесь, что в каждом тот же номер записи
  и хеш; проверка уже убедилась, что цепочка содержит каждый из этих хешей под его номером.
  Запись якоря можно найти так:
    grep '"seq":НОМЕР,' data/custody/chain.jsonl
  Метки времени якоря проверяются как метки манифеста, с -digest, равным хешу якоря.
  Цепочка, переписанная после якоря, не может содержать хеш якоря.

Шаг 5. Запись о самом пакете. Создание пакета добавило запись 'bundle_exported' после
  записи {head_seq} (поэтому её нет в цепочке этого пакета): в ней идентификатор экспорта
  {export_id}, SHA-256 файла manifest-sha256.txt и файла ZIP или .age. Её покрывает
  каждый следующий якорь; попросите у организации более поздний пакет или якорь.

Строка NOTE — не ошибка: она объясняет, что не удалось проверить и почему (например,
показания скрыты публичным профилем).
"""

_PROFILE_NOTES = {
    "en": {
        "investigator": "",
        "public": "\nPUBLIC PROFILE: this bundle leaves out what could identify or endanger "
        "a reporter (the\nlist is 'redactions' in export.json): no reference codes (folders "
        "are named by tip_id), no\ndescriptions or other free text, no pseudonyms, no "
        "moderator names, places no finer than\nthe settlement, dates no finer than the day, "
        "no originals and no file hashes. Every\ncustody entry of a tip is redacted. "
        "Testimony therefore cannot be checked against the\nchain; the verifier says so.\n",
    },
    "uk": {
        "investigator": "",
        "public": "\nПУБЛІЧНИЙ ПРОФІЛЬ: у пакеті немає того, що може розкрити або наразити "
        "на небезпеку\nзаявника (перелік — 'redactions' в export.json): кодів повідомлень "
        "(теки названо за\ntip_id), описів та іншого вільного тексту, псевдонімів, імен "
        "модераторів; місце — не\nточніше за населений пункт, дати — не точніше за день; "
        "немає оригіналів і хешів файлів.\nУсі записи журналу про повідомлення скорочено. "
        "Тому свідчення не звіряються з\nланцюгом; перевіряльник про це повідомляє.\n",
    },
    "ru": {
        "investigator": "",
        "public": "\nПУБЛИЧНЫЙ ПРОФИЛЬ: в пакете нет того, что может раскрыть заявителя или "
        "подвергнуть его\nопасности (перечень — 'redactions' в export.json): кодов "
        "сообщений (папки названы по\ntip_id), описаний и другого свободного текста, "
        "псевдонимов, имён модераторов; место — не\nточнее населённого пункта, даты — не "
        "точнее дня; нет оригиналов и хешей файлов. Все\nзаписи журнала о сообщениях "
        "сокращены. Поэтому показания не сверяются с цепочкой;\nпроверка об этом "
        "сообщает.\n",
    },
}

_SEPARATOR = "\n\n" + "#" * 69 + "\n\n"


_WIDTH = 90


def _entry(name: str, text: str) -> str:
    return textwrap.fill(
        f"{name}: {text}", width=_WIDTH, initial_indent="  ", subsequent_indent="      "
    )


def _field_lines(names: Sequence[str], docs: dict[str, str]) -> str:
    entries = [_entry(name, docs.get(name) or FIELD_DOCS.get(name, "")) for name in names]
    return "\n".join(entries) + "\n"


def _doc_lines(docs: dict[str, str]) -> str:
    return "\n".join(_entry(name, text) for name, text in docs.items()) + "\n"


def render(
    *,
    org: str,
    export_id: str,
    created: datetime,
    profile: str,
    tips: int,
    files: int,
    head_seq: int,
    head_hash: str,
    include_file_metadata: bool,
    field_names: Sequence[str],
) -> str:
    """data/README.txt for one bundle: English, then Ukrainian, then Russian."""
    values = {
        "org": " ".join(org.split()),
        "export_id": export_id,
        "created": created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "profile": profile,
        "tips": tips,
        "files": files,
        "head_seq": head_seq,
        "head_hash": head_hash,
    }
    metadata = {
        "en": "File metadata (EXIF/XMP, GPS) is "
        + (
            "INCLUDED: it can reveal where the reporter stood.\n"
            if include_file_metadata
            else "not included in files.csv or tip.json.\n"
        ),
        "uk": "Метадані файлів (EXIF/XMP, GPS) "
        + (
            "ВКЛЮЧЕНО: вони можуть показати, де стояв заявник.\n"
            if include_file_metadata
            else "не включено до files.csv і tip.json.\n"
        ),
        "ru": "Метаданные файлов (EXIF/XMP, GPS) "
        + (
            "ВКЛЮЧЕНЫ: они могут показать, где стоял заявитель.\n"
            if include_file_metadata
            else "не включены в files.csv и tip.json.\n"
        ),
    }
    texts = []
    for lang, template, docs in (
        ("en", _EN, FIELD_DOCS),
        ("uk", _UK, _UK_FIELDS),
        ("ru", _RU, _RU_FIELDS),
    ):
        note = _PROFILE_NOTES[lang].get(profile, "")
        texts.append(
            template.format(
                **values,
                profile_note=note + "\n" + metadata[lang],
                table_fields=_field_lines(field_names, docs),
                tip_fields=_doc_lines(TIP_JSON_FIELDS),
                file_fields=_doc_lines(FILE_FIELDS),
                update_fields=_doc_lines(UPDATE_FIELDS),
                chain_fields=_doc_lines(CHAIN_FIELDS),
            )
        )
    return _SEPARATOR.join(texts)
