// timeline.html: one self-contained page (no network, no external script, style or font) with
// a row per node and time running left to right: fault bars, service events, the journal's
// error lines, the test client's operations and the helper's runs. Hovering shows a mark's
// line, clicking shows it below.
#pragma once

#include "evidence.hpp"

#include <string>

namespace deploy {

std::string timeline_html(const Evidence& evidence);

} // namespace deploy
