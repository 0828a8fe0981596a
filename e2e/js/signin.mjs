// signIn signs an agent in to the console at url, in page.
export async function signIn(page, url, name, key) {
  await page.goto(url + "/agent");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
}
