#pragma once
// The fuzz target's oracle: is a text one JSON value as Python's json module reads it? That is RFC 8259 (strings
// of valid UTF-8 without raw control characters) plus the NaN, Infinity and -Infinity that Google Benchmark writes
// for such doubles. Written apart from the code under test, so that it checks rather than repeats it.

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace parbench::fuzz {

class json_check {
public:
    // Empty if `text` is one valid JSON value; otherwise what is wrong and where.
    static std::string error(std::string_view text) {
        json_check p{text};
        p.value(0);
        p.space();
        if (p.error_.empty() && p.at_ != text.size()) p.fail("text after the value");
        return p.error_;
    }

private:
    explicit json_check(std::string_view t) : text_(t) {}

    void fail(const char* what) {
        if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(at_);
        at_ = text_.size();
    }
    [[nodiscard]] int peek() const { return at_ < text_.size() ? static_cast<unsigned char>(text_[at_]) : -1; }
    bool eat(std::string_view word) {
        if (text_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }
    void space() {
        while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++at_;
    }
    void digits() {
        if (peek() < '0' || peek() > '9') return fail("digit expected");
        while (peek() >= '0' && peek() <= '9') ++at_;
    }

    void value(int depth) {
        if (depth > 64) return fail("nested too deep");
        space();
        const int c = peek();
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') return string();
        if (eat("true") || eat("false") || eat("null") || eat("NaN") || eat("Infinity") || eat("-Infinity")) return;
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        fail("value expected");
    }

    void object(int depth) {
        ++at_;
        space();
        if (eat("}")) return;
        for (;;) {
            space();
            if (peek() != '"') return fail("key expected");
            string();
            space();
            if (!eat(":")) return fail("':' expected");
            value(depth + 1);
            space();
            if (eat("}")) return;
            if (!eat(",")) return fail("',' or '}' expected");
        }
    }

    void array(int depth) {
        ++at_;
        space();
        if (eat("]")) return;
        for (;;) {
            value(depth + 1);
            space();
            if (eat("]")) return;
            if (!eat(",")) return fail("',' or ']' expected");
        }
    }

    void number() {
        eat("-");
        if (!eat("0")) digits();
        if (eat(".")) digits();
        if (peek() == 'e' || peek() == 'E') {
            ++at_;
            if (!eat("+")) eat("-");
            digits();
        }
    }

    void string() {
        ++at_;
        for (;;) {
            const int c = peek();
            if (c < 0) return fail("unterminated string");
            if (c == '"') {
                ++at_;
                return;
            }
            if (c < 0x20) return fail("raw control character in a string");
            if (c == '\\') {
                ++at_;
                const int e = peek();
                ++at_;
                if (e == 'u') {
                    for (int i = 0; i < 4; ++i, ++at_)
                        if (!std::isxdigit(peek())) return fail("bad \\u escape");
                } else if (e < 0 ||
                           std::string_view("\"\\/bfnrt").find(static_cast<char>(e)) == std::string_view::npos) {
                    return fail("bad escape");
                }
                continue;
            }
            if (c < 0x80) {
                ++at_;
                continue;
            }
            utf8(c);
            if (!error_.empty()) return;
        }
    }

    // One multi-byte UTF-8 character starting with lead byte c (>= 0x80): shortest form, no surrogates, at most
    // U+10FFFF.
    void utf8(int c) {
        int more = 0;
        unsigned cp = 0;
        if ((c & 0xE0) == 0xC0) {
            more = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3;
            cp = c & 0x07;
        } else {
            return fail("invalid UTF-8 lead byte");
        }
        ++at_;
        for (int i = 0; i < more; ++i, ++at_) {
            if ((peek() & 0xC0) != 0x80 || peek() < 0) return fail("invalid UTF-8 continuation");
            cp = (cp << 6) | (static_cast<unsigned>(peek()) & 0x3F);
        }
        static constexpr unsigned least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail("invalid UTF-8 code point");
    }

    std::string_view text_;
    std::size_t at_ = 0;
    std::string error_;
};

}  // namespace parbench::fuzz
