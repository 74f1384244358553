package dev.pocdojo.sdk.testing

/** RFC 4180 records of [text] (quoted fields with commas, doubled quotes and line breaks). */
fun parseCsv(text: String): List<List<String>> {
    val records = mutableListOf<List<String>>()
    var record = mutableListOf<String>()
    val field = StringBuilder()
    var quoted = false
    var i = 0
    while (i < text.length) {
        val c = text[i]
        when {
            quoted && c == '"' && text.getOrNull(i + 1) == '"' -> field.append('"').also { i++ }
            c == '"' -> quoted = !quoted
            quoted -> field.append(c)
            c == ',' -> record += field.toString().also { field.clear() }
            c == '\r' && text.getOrNull(i + 1) == '\n' -> Unit
            c == '\n' -> {
                record += field.toString().also { field.clear() }
                records += record
                record = mutableListOf()
            }
            else -> field.append(c)
        }
        i++
    }
    if (field.isNotEmpty() || record.isNotEmpty()) records += record + field.toString()
    return records
}
