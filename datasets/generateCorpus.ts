/**
 * Generates datasets/corpus/fables.txt: short fables in plain English, written by this program
 * from a small grammar and a fixed seed, so the corpus is the project's own text (dedicated to the
 * public domain, CC0) and regenerates byte for byte. Run: node datasets/generateCorpus.ts
 */
import { writeFileSync } from "node:fs";
import { SeededRandom } from "../spec/seededRandom.ts";

const TARGET_BYTES = 240_000;

const animals = [
  ["fox", "sly"],
  ["crow", "proud"],
  ["hare", "quick"],
  ["tortoise", "patient"],
  ["lion", "mighty"],
  ["mouse", "small"],
  ["wolf", "hungry"],
  ["lamb", "gentle"],
  ["ant", "busy"],
  ["grasshopper", "idle"],
  ["owl", "wise"],
  ["goat", "stubborn"],
  ["donkey", "tired"],
  ["stork", "tall"],
  ["frog", "noisy"],
  ["bear", "sleepy"],
  ["dog", "faithful"],
  ["cat", "clever"],
  ["heron", "careful"],
  ["magpie", "vain"],
] as const;
const people = [
  ["miller", "old"],
  ["shepherd", "young"],
  ["farmer", "poor"],
  ["fisherman", "honest"],
  ["weaver", "patient"],
  ["baker", "cheerful"],
  ["woodcutter", "strong"],
  ["merchant", "rich"],
  ["potter", "quiet"],
  ["boy", "curious"],
  ["girl", "brave"],
  ["king", "greedy"],
  ["widow", "kind"],
  ["soldier", "weary"],
  ["traveller", "lost"],
] as const;
const places = [
  "by the river",
  "at the edge of the forest",
  "on a hill above the village",
  "in a field of barley",
  "near the old mill",
  "under a great oak",
  "beside a deep well",
  "in the king's garden",
  "on the road to town",
  "among the reeds of the marsh",
  "in a valley full of stones",
  "at the gate of the city",
];
const seasons = [
  "one spring morning",
  "on a hot summer day",
  "in the cold of winter",
  "when the leaves were falling",
  "late one evening",
  "at dawn",
];
const wants = [
  ["a piece of cheese", "the cheese"],
  ["a bunch of grapes", "the grapes"],
  ["a warm place to sleep", "the warm place"],
  ["a drink of clear water", "the water"],
  ["a bag of grain", "the grain"],
  ["a shining coin", "the coin"],
  ["a basket of apples", "the apples"],
  ["a loaf of bread", "the bread"],
  ["a golden feather", "the feather"],
  ["the honey in a hollow tree", "the honey"],
] as const;
const tricks = [
  "praised its voice until it opened its mouth to sing",
  "promised to share it and then ran off with all of it",
  "pretended to be asleep and waited for the right moment",
  "asked for help and then forgot who had helped",
  "boasted that it could win any race without trying",
  "told everyone that the thing was not worth having",
  "laughed at those who worked while it played",
  "hid it so well that it could never find it again",
];
const endings = [
  "and so it lost what it already had",
  "and in the end it had nothing at all",
  "and the others learned not to trust it again",
  "and it went hungry while the others ate",
  "and it was sorry when it was too late",
  "and the humble one won the prize after all",
];
const morals = [
  "Slow and steady wins the race.",
  "Do not trust those who flatter you.",
  "It is easy to despise what you cannot get.",
  "Work today, and you will eat tomorrow.",
  "A kindness is never wasted.",
  "Pride goes before a fall.",
  "Look before you leap.",
  "Greed often loses all.",
  "Little friends may prove great friends.",
  "Be content with what you have.",
  "Appearances can deceive.",
  "United we stand, divided we fall.",
];
const sayings = [
  "Why do you work so hard when the sun is shining?",
  "I am the finest creature in the whole land.",
  "Wait for me, and I will bring you something good.",
  "Nobody can catch me, so I need not hurry.",
  "If you help me now, I will help you one day.",
  "That is not mine, but I will take it anyway.",
  "Let us count what we have before we ask for more.",
  "I was only resting, I was not afraid.",
];

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function fable(r: SeededRandom, number: number): string {
  const [hero, heroTrait] = r.pick(animals);
  let [other, otherTrait] = r.pick(animals);
  while (other === hero) [other, otherTrait] = r.pick(animals);
  const [person, personTrait] = r.pick(people);
  const [want, wantShort] = r.pick(wants);
  const place = r.pick(places);
  const lines: string[] = [];
  const title =
    r.next() < 0.5
      ? `The ${cap(hero)} and the ${cap(other)}`
      : `The ${cap(personTrait)} ${cap(person)} and the ${cap(hero)}`;
  lines.push(`${number}. ${title}`, "");
  lines.push(
    `${cap(r.pick(seasons))}, a ${heroTrait} ${hero} lived ${place}. ` +
      `It wanted ${want} more than anything, but ${wantShort} belonged to a ${otherTrait} ${other}.`,
  );
  lines.push(
    `The ${hero} ${r.pick(tricks)}. "${r.pick(sayings)}" said the ${hero}. ` +
      `The ${other} listened, and thought for a while, and said, "${r.pick(sayings)}"`,
  );
  if (r.next() < 0.6) {
    lines.push(
      `Then a ${personTrait} ${person} came along the path and saw them both. ` +
        `"You two will quarrel all day," said the ${person}, "and I will carry ${wantShort} home." ` +
        `And that is what the ${person} did.`,
    );
  } else {
    lines.push(
      `The ${other} did not argue. It kept ${wantShort} and went on with its work, ` +
        `while the ${hero} ${r.pick(tricks)}, ${r.pick(endings)}.`,
    );
  }
  lines.push(
    r.next() < 0.5
      ? `Ever after, the ${other} remembered what the ${hero} had done ${place}.`
      : `From that day the ${hero} was a little wiser, though it was still ${heroTrait}.`,
  );
  lines.push("", `Moral: ${r.pick(morals)}`, "", "");
  return lines.join("\n");
}

const random = new SeededRandom(1789);
const parts: string[] = [
  "FABLES FOR A SMALL LANGUAGE MODEL\n\n",
  "Written by a program for daotrain; dedicated to the public domain (CC0).\n\n\n",
];
let size = parts.join("").length;
for (let n = 1; size < TARGET_BYTES; n++) {
  const text = fable(random, n);
  parts.push(text);
  size += text.length;
}
const out = new URL("./corpus/fables.txt", import.meta.url);
writeFileSync(out, parts.join(""));
console.log(`wrote ${out.pathname} (${size} bytes)`);
