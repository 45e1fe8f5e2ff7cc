"""The repetition guard in Discord's big languages: a habit said in four of six turns is found, the language's
own grammar said as often is not, and openers are found in languages written without spaces."""

from __future__ import annotations

import pytest

from bot.reply.guard import repeated, variety_note

# Six turns of a character each: a catchphrase of its own in four of them, in varied sentences.
HABITS = {
    "en": ("the lantern hums softly", [
        "Morning! The lantern hums softly. I swept the porch before the rain came.",
        "We could walk to the mill later, if your knee allows it.",
        "Bread is rising on the sill. The lantern hums softly, as it does.",
        "Your cousin wrote again; she sounds cheerful and busy.",
        "The lantern hums softly tonight. Shall I light the stove?",
        "Of course I remember the fair. The lantern hums softly when I think of it."]),
    "de": ("die laterne summt leise", [
        "Guten Morgen! Die Laterne summt leise. Ich habe die Veranda gefegt, bevor es regnete.",
        "Wir könnten später zur Mühle gehen, wenn dein Knie mitmacht.",
        "Das Brot geht auf der Fensterbank auf. Die Laterne summt leise, wie immer.",
        "Deine Cousine hat wieder geschrieben; sie klingt fröhlich und beschäftigt.",
        "Die Laterne summt leise heute Abend. Soll ich den Ofen anzünden?",
        "Natürlich erinnere ich mich an den Markt. Die Laterne summt leise, wenn ich daran denke."]),
    "es": ("la linterna zumba suave", [
        "¡Buenos días! La linterna zumba suave. Barrí el porche antes de que lloviera.",
        "Podríamos ir al molino más tarde, si tu rodilla lo permite.",
        "El pan sube en el alféizar. La linterna zumba suave, como siempre.",
        "Tu prima escribió otra vez; parece alegre y ocupada.",
        "La linterna zumba suave esta noche. ¿Enciendo la estufa?",
        "Claro que recuerdo la feria. La linterna zumba suave cuando pienso en ella."]),
    "ja": ("灯籠は静かに歌う", [
        "おはよう！灯籠は静かに歌う。雨の前に縁側を掃いたよ。",
        "膝が大丈夫なら、あとで水車小屋まで歩こうか。",
        "窓辺でパンが膨らんでいる。灯籠は静かに歌う、いつものように。",
        "いとこからまた手紙が来たよ。元気で忙しそうだ。",
        "今夜も灯籠は静かに歌う。ストーブをつけようか？",
        "もちろん祭りのことは覚えている。思い出すと灯籠は静かに歌う。"]),
    "zh": ("灯笼轻轻哼唱", [
        "早上好！灯笼轻轻哼唱。下雨前我扫了门廊。",
        "如果你的膝盖没问题，我们晚点可以走到磨坊去。",
        "面包在窗台上发酵。灯笼轻轻哼唱，一如往常。",
        "你表妹又来信了，她听起来又开心又忙碌。",
        "今晚灯笼轻轻哼唱。要我生炉子吗？",
        "我当然记得那个集市。一想起来，灯笼轻轻哼唱。"]),
}

# The same grammar in four of six turns, in sentences that say different things, and what the person said
# between them (the history the reply's prompt holds): not a habit.
GRAMMAR = {
    "de": ([
        "Das ist eine gute Frage, und ich muss darüber nachdenken.",
        "Gestern war der Himmel klar, also sind wir zum See gefahren.",
        "Das ist der Weg, den meine Großmutter immer genommen hat.",
        "Ich glaube, das ist zu teuer für uns beide.",
        "Meine Schwester kommt am Freitag und bringt den Hund mit.",
        "Na gut, das ist dann eben so, morgen sehen wir weiter."], [
        "Hast du das Buch gelesen, das ich dir gegeben habe?",
        "Mein Bruder ist krank, das Wetter ist schuld.",
        "Wo ist das Auto? Ist es noch in der Garage?", "Das Essen war lecker, der Kuchen ist aber zu süß.",
        "Kennst du das Café am Markt? Es ist neu.", "Mir ist kalt, und das Fenster ist offen."]),
    "es": ([
        "Es que no dormí bien anoche, el perro ladraba sin parar.",
        "Mañana vamos al mercado a comprar tomates y pan.",
        "No puedo salir hoy, es que tengo que terminar el informe.",
        "Es que la película era demasiado larga para mí.",
        "Mi hermana dice que la casa de la playa está libre.",
        "Lo siento, es que se me olvidó llamar a tu madre."], [
        "¿Qué es eso que tienes en la mano?", "Mi abuelo dice que el invierno es largo.",
        "Creo que es tarde, pero que venga igual.", "El tren es rápido, aunque no sé si es caro.",
        "¿Sabes que Marta se va? Es una pena.", "Dime que sí, que la fiesta es mañana."]),
    "ja": ([
        "昨日は雨だったので、家で本を読んでいたのです。",
        "駅前のパン屋さんが新しいケーキを出したよ。",
        "あの人は本当に親切なのです。",
        "実は猫が病気で、病院に行っていたのです。",
        "週末は山に登る予定だけど、天気が心配だね。",
        "このスープは祖母の味に似ているのです。"], [
        "どうして昨日来なかったの？", "私の兄は医者なのです。", "その店のことは知らなかったです。",
        "猫の名前は何ですか？", "雨なので、今日は行かないのです。", "明日の会議は何時からですか？"]),
    "zh": ([
        "我觉得这本书的结局太突然了。",
        "昨天下了一整天的雨，我们就待在家里。",
        "我觉得你说的办法是对的。",
        "明天早上我要去市场买菜。",
        "我觉得那家店的面条最好吃。",
        "其实我觉得他的意思不是这样的。"], [
        "你觉得今天的天气怎么样？", "他的猫是白色的。", "我们的老师说明天考试。",
        "你看过那部电影吗？我觉得一般。", "她说的话我没听懂。", "这是我妈妈做的菜。"]),
}


@pytest.mark.parametrize("language", sorted(HABITS))
def test_a_habit_in_four_of_six_turns_is_found(language: str) -> None:
    habit, turns = HABITS[language]
    assert repeated(turns)[1] == [habit]
    assert habit in variety_note(turns)
    assert repeated(turns[:4] + turns[5:])[1] == []  # in three of five: a coincidence


@pytest.mark.parametrize("language", sorted(GRAMMAR))
def test_the_languages_grammar_said_again_and_again_is_not_a_habit(language: str) -> None:
    own, heard = GRAMMAR[language]
    assert repeated(own, heard)[1] == []


def test_the_others_turns_show_which_words_are_grammar() -> None:
    # "de la" in four of six short turns: with only those, it could be a habit; the person's turns use
    # both words beside many others
    own = ["La casa de la playa.", "Vale.", "El perro de la vecina.", "Sí.", "La mitad de la tarta.",
           "El final de la película."]
    heard = ["¿Vamos a la playa el sábado con la familia de Ana?", "La tarta de chocolate estaba buena.",
             "Se me olvidó la llave en la mesa de la cocina.", "¿Qué dijo la profesora de la clase de hoy?",
             "Mi madre compra la fruta en el mercado de la plaza.", "La película de anoche era de miedo."]
    assert repeated(own, heard)[1] == []


def test_openers_are_found_without_spaces() -> None:
    zh = ["哎呀，今天好冷。", "哎呀我忘了带伞。", "你好，吃饭了吗？", "哎呀，这个太难了。"]
    assert repeated(zh)[0] == ["哎呀"]
    ja = ["えっと、今日は寒いね。", "えっと、傘を忘れた。", "こんにちは、ご飯食べた？",
          "えっと、これは難しい。"]
    assert repeated(ja)[0] == ["えっと"]
    assert repeated(["今天很冷。", "明天下雨。", "昨天很热。"])[0] == []


def test_a_name_said_again_and_again_is_not_a_phrase() -> None:
    turns = ["卡罗琳今天去了公园。", "卡罗琳喜欢画画。", "我们明天见。", "卡罗琳的猫很可爱。",
             "好的，没问题。", "卡罗琳说她很累。"]
    assert repeated(turns)[1] == []
