package dev.pocdojo.app

import android.content.Context
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.DateTimeParseException
import java.time.format.FormatStyle

/** An ISO-8601 instant from the server in the screen's language and the device's time zone; any other text as it came. */
fun Context.shownTime(iso: String): String {
    val instant =
        try {
            Instant.parse(iso)
        } catch (notAnInstant: DateTimeParseException) {
            return iso
        }
    return DateTimeFormatter.ofLocalizedDateTime(FormatStyle.MEDIUM, FormatStyle.SHORT)
        .withLocale(resources.configuration.locales[0])
        .withZone(ZoneId.systemDefault())
        .format(instant)
}
